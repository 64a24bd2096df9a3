/** Configurations shared by the tests. */
import type { RawConfig } from "../components/lib/config";

/** A throwaway key: the tests only check that it is carried as a secret, never used. */
export const testKey = "-----BEGIN OPENSSH PRIVATE KEY-----\nTEST-ONLY-NOT-A-REAL-KEY\n-----END OPENSSH PRIVATE KEY-----\n";

/** The guide's lab: one control plane, two workers, an NFS host. */
export function guideLab(overrides: Partial<RawConfig> = {}): RawConfig {
    return {
        hosts: [
            { name: "cp1", address: "192.168.56.10", roles: ["control-plane"] },
            { name: "worker1", address: "192.168.56.11", roles: ["worker"] },
            { name: "worker2", address: "192.168.56.12", roles: ["worker"] },
            { name: "nfs1", address: "192.168.56.13", roles: ["nfs"] },
        ],
        ssh: { user: "ubuntu", privateKey: testKey },
        addons: { calico: false, ingress: false, nfs: false, logging: false, monitoring: false },
        ...overrides,
    };
}

/** A lab of one control plane and `workers` workers, with every layer off. */
export function clusterOnly(workers: number, overrides: Partial<RawConfig> = {}): RawConfig {
    const hosts = [{ name: "cp1", address: "10.10.0.1", roles: ["control-plane"] }];
    for (let i = 1; i <= workers; i++) {
        hosts.push({ name: `worker${i}`, address: `10.10.${Math.floor(i / 250) + 1}.${(i % 250) + 1}`, roles: ["worker"] });
    }
    return {
        hosts,
        ssh: { user: "ubuntu", privateKey: testKey },
        addons: { calico: false, ingress: false, nfs: false, logging: false, monitoring: false },
        ...overrides,
    };
}
