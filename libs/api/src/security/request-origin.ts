/**
 * Which host names a request may name, and which pages may send one. Loopback is no boundary:
 * a page whose name rebinds to 127.0.0.1 sends its own name in `Host`, and any page can open
 * a WebSocket to localhost with its own `Origin`; both are refused here.
 */
import { isIP } from 'node:net';

export interface RequestHeaders {
  host?: string | string[];
  origin?: string | string[];
}

export interface OriginSettings {
  /** The listen address. */
  host: string;
  publicUrl?: string;
  allowedHosts?: string[];
}

/** A header value as a message shows it: whoever sent it, at most 100 characters of it. */
function shown(value: string): string {
  return value.length > 100 ? `${value.slice(0, 100)}…` : value;
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** The host name of a `Host` header value (`name`, `name:port`, `[v6]:port`), lower-cased, or null if it is not one. */
export function hostNameOf(hostHeader: string): string | null {
  const value = hostHeader.trim().toLowerCase();
  const bracketed = /^\[([0-9a-f:.]+)\](?::\d{1,5})?$/.exec(value);
  if (bracketed) return bracketed[1];
  const plain = /^([a-z0-9.-]+)(?::\d{1,5})?$/.exec(value);
  return plain ? plain[1].replace(/\.$/, '') : null;
}

export function isLoopbackName(name: string): boolean {
  return name === 'localhost' || name === '::1' || (isIP(name) === 4 && name.startsWith('127.'));
}

export class RequestOriginPolicy {
  private readonly names = new Set<string>();
  private readonly publicOrigin: string | null;

  constructor(settings: OriginSettings) {
    const listen = settings.host.toLowerCase();
    if (listen !== '0.0.0.0' && listen !== '::') this.names.add(listen.replace(/^\[|\]$/g, ''));
    for (const name of settings.allowedHosts ?? []) this.names.add(name.trim().toLowerCase());
    this.publicOrigin = null;
    if (settings.publicUrl) {
      const url = new URL(settings.publicUrl);
      this.names.add(url.hostname.replace(/^\[|\]$/g, '').toLowerCase());
      this.publicOrigin = url.origin;
    }
  }

  /** Why a request must be refused, or null when its `Host` and `Origin` are acceptable. */
  problem(headers: RequestHeaders): string | null {
    const host = single(headers.host);
    if (!host) return 'the request has no Host header';
    const name = hostNameOf(host);
    if (!name || !this.servesName(name)) {
      return `the host name "${shown(host)}" is not one this server answers to; add it with CHAINVAULT_PUBLIC_URL or CHAINVAULT_ALLOWED_HOSTS`;
    }
    const origin = single(headers.origin);
    if (origin === undefined) return null;
    if (this.publicOrigin && origin.toLowerCase() === this.publicOrigin.toLowerCase()) return null;
    let url: URL | null = null;
    try {
      url = origin === 'null' ? null : new URL(origin);
    } catch {
      url = null;
    }
    // Same origin only: the page must have come from this very host and port.
    if (url && (url.protocol === 'http:' || url.protocol === 'https:') && url.host.toLowerCase() === host.trim().toLowerCase() && this.servesName(url.hostname.replace(/^\[|\]$/g, '').toLowerCase())) {
      return null;
    }
    return `requests from pages of ${shown(origin)} are refused; only pages this server serves may call it`;
  }

  private servesName(name: string): boolean {
    return isLoopbackName(name) || this.names.has(name);
  }
}
