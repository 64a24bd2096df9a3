/** IPv4 helpers for configuration checks: plain functions, no dependencies. */

export interface Cidr {
    /** The CIDR as written, normalised to its network address, e.g. `10.244.0.0/16`. */
    text: string;
    network: number;
    prefix: number;
}

export function ipv4ToNumber(address: string): number | undefined {
    const parts = address.split(".");
    if (parts.length !== 4) return undefined;
    let n = 0;
    for (const p of parts) {
        if (!/^(0|[1-9][0-9]{0,2})$/.test(p) || Number(p) > 255) return undefined;
        n = n * 256 + Number(p);
    }
    return n;
}

export function isIpv4(address: string): boolean {
    return ipv4ToNumber(address) !== undefined;
}

function mask(prefix: number): number {
    return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

/** Parses `a.b.c.d/n`; the address must be the network address (no host bits set). */
export function parseCidr(text: string): Cidr | undefined {
    const m = /^([0-9.]+)\/([0-9]{1,2})$/.exec(text);
    if (!m) return undefined;
    const address = ipv4ToNumber(m[1]);
    const prefix = Number(m[2]);
    if (address === undefined || prefix > 32) return undefined;
    if (((address & mask(prefix)) >>> 0) !== address) return undefined;
    return { text, network: address, prefix };
}

export function cidrContains(c: Cidr, address: string): boolean {
    const n = ipv4ToNumber(address);
    return n !== undefined && ((n & mask(c.prefix)) >>> 0) === c.network;
}

export function cidrsOverlap(a: Cidr, b: Cidr): boolean {
    const prefix = Math.min(a.prefix, b.prefix);
    return ((a.network & mask(prefix)) >>> 0) === ((b.network & mask(prefix)) >>> 0);
}
