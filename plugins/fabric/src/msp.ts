// Checks of a Fabric local MSP folder (the layout `cryptogen`, fabric-ca-client and
// sampleconfig/msp use): every certificate parses, signing and admin certificates chain to a CA
// certificate of the MSP (through its intermediate certificates), TLS intermediates chain to a
// TLS CA, and certificates that expire soon are listed. Private keys are never read.
import { X509Certificate } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';

export const MSP_FOLDERS = ['cacerts', 'intermediatecerts', 'signcerts', 'admincerts', 'tlscacerts', 'tlsintermediatecerts'] as const;
export type MspFolder = (typeof MSP_FOLDERS)[number];

export interface MspCertificate {
  /** Path relative to the MSP folder, e.g. signcerts/peer.pem; "#n" is appended for the n-th certificate of a bundle. */
  file: string;
  folder: MspFolder;
  subject: string;
  issuer: string;
  serialNumber: string;
  notBefore: string;
  notAfter: string;
  isCA: boolean;
  selfSigned: boolean;
  fingerprint256: string;
}

export interface MspChain {
  /** The certificate whose chain was checked. */
  file: string;
  /** Files of the certificates from the checked one up to its root, when a chain was found. */
  chain: string[];
  ok: boolean;
  error?: string;
}

export interface MspExpiry {
  file: string;
  subject: string;
  notAfter: string;
  daysLeft: number;
  expired: boolean;
}

export interface MspReport {
  dir: string;
  certificates: MspCertificate[];
  /** One entry per signing, admin, intermediate and TLS intermediate certificate. */
  chains: MspChain[];
  /** Certificates whose not-after falls within the warning window (expired ones included), soonest first. */
  expiring: MspExpiry[];
  keystore: { present: boolean; files: number };
  config: { present: boolean; nodeOUsEnabled?: boolean; ouCertificates: string[] };
  ok: boolean;
  problems: string[];
}

export interface InspectMspOptions {
  /** The reference time for expiry (default: now). */
  now?: Date;
  /** Window, in days, for certificates reported as expiring (default 30). */
  expiryWarningDays?: number;
  /**
   * Whether the folder must hold a signing certificate (default true: a local MSP). An
   * organisation's verifying MSP (the one in channel configurations) has none.
   */
  requireSigncerts?: boolean;
}

export class MspError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MspError';
  }
}

const DAY = 24 * 60 * 60 * 1000;
const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

interface Loaded {
  info: MspCertificate;
  cert: X509Certificate;
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
}

async function filesOf(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  return entries
    .filter((e) => e.isFile() && !e.name.startsWith('.'))
    .map((e) => e.name)
    .sort();
}

function toIso(date: string): string {
  return new Date(date).toISOString().replace('.000Z', 'Z');
}

/** Finds the issuer of `cert` among `candidates`: names must match and the signature must verify. */
function findIssuer(cert: X509Certificate, candidates: Loaded[]): Loaded | undefined {
  return candidates.find((c) => cert.checkIssued(c.cert) && cert.verify(c.cert.publicKey));
}

/** Walks from `start` up through `intermediates` until a certificate of `roots` signed the last link. */
function chainTo(start: Loaded, intermediates: Loaded[], roots: Loaded[]): MspChain {
  const chain = [start.info.file];
  let current = start;
  for (let depth = 0; depth < 10; depth++) {
    const root = findIssuer(current.cert, roots);
    if (root) {
      if (root !== current) chain.push(root.info.file);
      return { file: start.info.file, chain, ok: true };
    }
    const next = findIssuer(current.cert, intermediates.filter((i) => i !== current && !chain.includes(i.info.file)));
    if (!next) {
      return {
        file: start.info.file,
        chain,
        ok: false,
        error: `${current.info.file} (issuer ${current.info.issuer.replace(/\n/g, ', ')}) was not signed by any ${roots[0]?.info.folder ?? 'CA'} certificate${intermediates.length ? ' or intermediate certificate' : ''} of the MSP`,
      };
    }
    chain.push(next.info.file);
    current = next;
  }
  return { file: start.info.file, chain, ok: false, error: 'certificate chain deeper than 10' };
}

/** Reads the certificate files and lines of interest of config.yaml (no YAML library: only two keys are needed). */
function readConfigYaml(text: string): { nodeOUsEnabled?: boolean; ouCertificates: string[] } {
  const lines = text.split(/\r?\n/).map((l) => l.replace(/#.*$/, ''));
  const ouCertificates: string[] = [];
  let nodeOUsEnabled: boolean | undefined;
  let inNodeOUs = false;
  for (const line of lines) {
    if (/^\S/.test(line)) inNodeOUs = /^NodeOUs\s*:/.test(line);
    const cert = /^\s*(?:-\s+)?Certificate\s*:\s*["']?([^"'\s]+)["']?\s*$/.exec(line);
    if (cert) ouCertificates.push(cert[1]);
    const enable = /^\s+Enable\s*:\s*(\w+)/.exec(line);
    if (inNodeOUs && enable) nodeOUsEnabled = enable[1].toLowerCase() === 'true';
  }
  return { nodeOUsEnabled, ouCertificates: [...new Set(ouCertificates)] };
}

/**
 * Inspects a local MSP folder. Throws MspError when the folder does not exist or has no signing
 * certificate (signcerts); other faults are listed in `problems`.
 */
export async function inspectMsp(dir: string, options: InspectMspOptions = {}): Promise<MspReport> {
  const now = options.now ?? new Date();
  const warningDays = options.expiryWarningDays ?? 30;
  if (!(await isDirectory(dir))) throw new MspError(`${dir} is not a directory`);
  const requireSigncerts = options.requireSigncerts ?? true;
  if (requireSigncerts && !(await isDirectory(join(dir, 'signcerts')))) throw new MspError(`${dir} is not a usable MSP folder: it has no signcerts folder`);

  const problems: string[] = [];
  const loaded = new Map<MspFolder, Loaded[]>();
  for (const folder of MSP_FOLDERS) {
    const list: Loaded[] = [];
    loaded.set(folder, list);
    const folderPath = join(dir, folder);
    if (!(await isDirectory(folderPath))) continue;
    for (const name of await filesOf(folderPath)) {
      const relative = `${folder}/${name}`;
      const text = await readFile(join(folderPath, name), 'latin1');
      const pems = text.match(PEM_CERTIFICATE) ?? [];
      if (pems.length === 0) {
        problems.push(`${relative}: no PEM certificate in the file`);
        continue;
      }
      pems.forEach((pem, index) => {
        const file = pems.length > 1 ? `${relative}#${index + 1}` : relative;
        try {
          const cert = new X509Certificate(pem);
          list.push({
            cert,
            info: {
              file,
              folder,
              subject: cert.subject,
              issuer: cert.issuer,
              serialNumber: cert.serialNumber,
              notBefore: toIso(cert.validFrom),
              notAfter: toIso(cert.validTo),
              isCA: cert.ca,
              selfSigned: cert.checkIssued(cert) && cert.verify(cert.publicKey),
              fingerprint256: cert.fingerprint256,
            },
          });
        } catch (error) {
          problems.push(`${file}: the certificate does not parse: ${(error as Error).message}`);
        }
      });
    }
  }

  const get = (folder: MspFolder): Loaded[] => loaded.get(folder)!;
  if (requireSigncerts && get('signcerts').length === 0 && !problems.some((p) => p.startsWith('signcerts/'))) {
    throw new MspError(`${dir} is not a usable MSP folder: signcerts holds no certificate`);
  }
  if (get('cacerts').length === 0) problems.push('cacerts holds no certificate: the MSP has no root of trust');
  for (const ca of get('cacerts')) {
    if (!ca.info.selfSigned && !findIssuer(ca.cert, get('cacerts'))) {
      problems.push(`${ca.info.file} is not self-signed nor signed by another CA certificate of the MSP`);
    }
  }

  const chains: MspChain[] = [];
  for (const folder of ['signcerts', 'admincerts', 'intermediatecerts'] as const) {
    for (const c of get(folder)) chains.push(chainTo(c, get('intermediatecerts'), get('cacerts')));
  }
  for (const c of get('tlsintermediatecerts')) chains.push(chainTo(c, get('tlsintermediatecerts'), get('tlscacerts')));
  for (const chain of chains) if (!chain.ok) problems.push(`${chain.file}: ${chain.error}`);

  const certificates = MSP_FOLDERS.flatMap((f) => get(f).map((l) => l.info));
  const expiring: MspExpiry[] = certificates
    .map((c) => {
      const left = (Date.parse(c.notAfter) - now.getTime()) / DAY;
      return { file: c.file, subject: c.subject, notAfter: c.notAfter, daysLeft: Math.floor(left), expired: left < 0 };
    })
    .filter((e) => e.daysLeft < warningDays)
    .sort((a, b) => Date.parse(a.notAfter) - Date.parse(b.notAfter));
  for (const e of expiring) if (e.expired) problems.push(`${e.file} expired on ${e.notAfter}`);
  for (const c of certificates) {
    if (Date.parse(c.notBefore) > now.getTime()) problems.push(`${c.file} is not valid before ${c.notBefore}`);
  }

  const keystoreDir = join(dir, 'keystore');
  const keystore = (await isDirectory(keystoreDir)) ? { present: true, files: (await filesOf(keystoreDir)).length } : { present: false, files: 0 };

  let config: MspReport['config'] = { present: false, ouCertificates: [] };
  try {
    config = { present: true, ...readConfigYaml(await readFile(join(dir, 'config.yaml'), 'utf8')) };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  for (const file of config.ouCertificates) {
    if (!certificates.some((c) => c.file === file || c.file.startsWith(`${file}#`))) {
      problems.push(`config.yaml refers to ${file}, which is not a certificate of the MSP`);
    }
  }

  return { dir, certificates, chains, expiring, keystore, config, ok: problems.length === 0, problems };
}
