import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import * as k8s from "@pulumi/kubernetes";
import { Host, NfsSettings, SshSettings } from "../lib/config";
import { chartRelease, MirrorOptions } from "../lib/chart";
import { runCommand } from "../lib/render";
import { nfsServerScript } from "../lib/scripts";
import { connectionFor } from "../lib/ssh";
import { csiDriverNfsValues, deepMerge, storageClassSpec } from "../lib/values";
import { charts } from "../lib/versions";

export interface NfsStorageArgs extends MirrorOptions {
    /** Export path, StorageClass name, default class, reclaim policy, data on remove, `values`. Required. */
    settings: NfsSettings;
    /** The host that serves NFS (the `nfs` host, else the control plane). Required. */
    server: Host;
    /** Addresses allowed to mount the export: the lab's Kubernetes hosts. Required. */
    clients: string[];
    /** SSH credentials and bastion. Required. */
    ssh: SshSettings;
    /** The server's preparation, when it is also a Kubernetes node. Default none. */
    prepared?: pulumi.Resource;
}

/**
 * Shared storage: an NFS server set up over SSH (`scripts/nfs-server.sh`), csi-driver-nfs, and
 * a StorageClass that gives each claim a sub-directory of the export. Removing the layer
 * removes the export and keeps the data unless `deleteDataOnRemove` is set.
 */
export class NfsStorage extends pulumi.ComponentResource {
    public readonly storageClassName: string;

    constructor(name: string, args: NfsStorageArgs, opts?: pulumi.ComponentResourceOptions) {
        super("k8s-lab:layers:NfsStorage", name, {}, opts);
        const { settings, server } = args;
        const serve = new command.remote.Command(
            `${name}-server`,
            {
                connection: connectionFor(server, args.ssh),
                stdin: nfsServerScript(settings.exportPath, args.clients, settings.deleteDataOnRemove),
                create: runCommand(server.user, "apply"),
                delete: runCommand(server.user, "remove"),
                addPreviousOutputInEnv: false,
            },
            { parent: this, dependsOn: args.prepared ? [args.prepared] : [], customTimeouts: { create: "15m", update: "15m", delete: "10m" } },
        );
        const namespace = new k8s.core.v1.Namespace(`${name}-namespace`, { metadata: { name: "csi-nfs" } }, { parent: this });
        const driver = chartRelease(
            `${name}-driver`,
            charts.csiDriverNfs,
            { releaseName: "csi-driver-nfs", namespace: namespace.metadata.name, values: deepMerge(csiDriverNfsValues(args.imageRegistry), settings.values), chartRepositories: args.chartRepositories ?? {} },
            { parent: this },
        );
        // StorageClass parameters cannot change in place, and the name stays: delete first.
        new k8s.storage.v1.StorageClass(`${name}-class`, storageClassSpec(settings, server.address), {
            parent: this,
            dependsOn: [driver, serve],
            deleteBeforeReplace: true,
        });
        this.storageClassName = settings.storageClassName;
        this.registerOutputs({ storageClassName: this.storageClassName });
    }
}
