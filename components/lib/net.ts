/**
 * IPv4 helpers for the configuration's checks, on ipaddr.js. The lab is IPv4-only (kubeadm's
 * single-stack defaults, one Calico IPv4 pool), so IPv6 is recognised only to say so.
 */
import * as ipaddr from "ipaddr.js";

export interface Cidr {
    /** The CIDR as written, e.g. `10.244.0.0/16`. */
    text: string;
    network: ipaddr.IPv4;
    prefix: number;
}

/** Dotted-quad only: ipaddr.js alone would also take `10.1` or `0x0a.0.0.1`, which kubeadm does not. */
export function isIpv4(address: string): boolean {
    return ipaddr.IPv4.isValidFourPartDecimal(address);
}

/** An IPv6 address or CIDR, as someone might write for a host or a subnet. */
export function isIpv6(text: string): boolean {
    return ipaddr.IPv6.isValid(text) || ipaddr.IPv6.isValidCIDR(text);
}

/** `a.b.c.d/n` with a prefix written without leading zeros (ipaddr.js would take `/08`). */
function splitCidr(text: string): [ipaddr.IPv4, number] | undefined {
    if (!/\/(0|[1-9][0-9]?)$/.test(text) || !ipaddr.IPv4.isValidCIDRFourPartDecimal(text)) return undefined;
    return ipaddr.IPv4.parseCIDR(text);
}

/** Parses `a.b.c.d/n`; the address must be the network address (no host bits set). */
export function parseCidr(text: string): Cidr | undefined {
    const parsed = splitCidr(text);
    if (!parsed || ipaddr.IPv4.networkAddressFromCIDR(text).toString() !== parsed[0].toString()) return undefined;
    return { text, network: parsed[0], prefix: parsed[1] };
}

/** The network a CIDR with host bits set stands for (`10.96.0.1/12` gives `10.96.0.0/12`), for the message that suggests it. */
export function cidrNetwork(text: string): string | undefined {
    const parsed = splitCidr(text);
    return parsed && `${ipaddr.IPv4.networkAddressFromCIDR(text).toString()}/${parsed[1]}`;
}

export function cidrContains(c: Cidr, address: string): boolean {
    return isIpv4(address) && ipaddr.IPv4.parse(address).match(c.network, c.prefix);
}

export function cidrsOverlap(a: Cidr, b: Cidr): boolean {
    return a.network.match(b.network, Math.min(a.prefix, b.prefix));
}
