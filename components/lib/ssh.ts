/** SSH connection settings for `remote.Command`, from the lab's configuration. */
import * as pulumi from "@pulumi/pulumi";
import * as remote from "@pulumi/command/types/input";
import { Host, SshSettings } from "./config";

/** How long to keep dialling a host that does not answer yet (a VM still booting). */
const dial = { dialErrorLimit: 30, perDialTimeout: 10 };

function secret(value: string | undefined): pulumi.Output<string> | undefined {
    return value === undefined ? undefined : pulumi.secret(value);
}

/**
 * The connection to a host: its own user and port, the lab's credentials and bastion, and
 * the host keys to insist on where the configuration gives them (without one, pulumi-command
 * accepts whatever key the host presents: see the README's Security section).
 */
export function connectionFor(host: Host, ssh: SshSettings): remote.remote.ConnectionArgs {
    return {
        host: host.address,
        port: host.port,
        user: host.user,
        privateKey: secret(ssh.privateKey),
        password: secret(ssh.password),
        hostKey: host.hostKey,
        ...dial,
        proxy: ssh.bastion && {
            host: ssh.bastion.address,
            port: ssh.bastion.port,
            user: ssh.bastion.user,
            privateKey: secret(ssh.bastion.privateKey),
            password: secret(ssh.bastion.password),
            hostKey: ssh.bastion.hostKey,
            ...dial,
        },
    };
}
