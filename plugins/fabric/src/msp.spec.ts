import { cp, mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FABRIC, tempDir } from './__fixtures__/fabric';
import { inspectMsp, MspError } from './msp';

const SAMPLE = join(FABRIC, 'msp', 'sampleconfig-msp');
const DAY = 24 * 60 * 60 * 1000;

describe('inspectMsp on the sample MSP (fixtures README §2.4)', () => {
  it('parses every certificate and chains the signing, admin and TLS intermediate certificates', async () => {
    const report = await inspectMsp(SAMPLE, { now: new Date('2026-12-01T00:00:00Z') });
    expect(report.certificates.map((c) => c.file)).toEqual([
      'cacerts/cacert.pem',
      'signcerts/peer.pem',
      'admincerts/admincert.pem',
      'tlscacerts/tlsroot.pem',
      'tlsintermediatecerts/tlsintermediate.pem',
    ]);
    const byFile = Object.fromEntries(report.certificates.map((c) => [c.file, c]));
    expect(byFile['cacerts/cacert.pem']).toMatchObject({ isCA: true, selfSigned: true, notAfter: '2027-11-10T13:41:11Z' });
    expect(byFile['signcerts/peer.pem'].subject).toMatch(/CN=peer0\.org1\.example\.com/);
    expect(byFile['signcerts/peer.pem']).toMatchObject({ isCA: false, selfSigned: false, notAfter: '2027-11-10T13:41:11Z' });
    expect(byFile['tlscacerts/tlsroot.pem']).toMatchObject({ selfSigned: true, notAfter: '2027-05-06T09:30:34Z' });
    expect(report.chains).toEqual([
      { file: 'signcerts/peer.pem', chain: ['signcerts/peer.pem', 'cacerts/cacert.pem'], ok: true },
      { file: 'admincerts/admincert.pem', chain: ['admincerts/admincert.pem', 'cacerts/cacert.pem'], ok: true },
      { file: 'tlsintermediatecerts/tlsintermediate.pem', chain: ['tlsintermediatecerts/tlsintermediate.pem', 'tlscacerts/tlsroot.pem'], ok: true },
    ]);
    expect(report.keystore).toEqual({ present: false, files: 0 });
    expect(report.config).toEqual({ present: true, nodeOUsEnabled: false, ouCertificates: ['cacerts/cacert.pem'] });
    expect(report.expiring).toEqual([]);
    expect(report).toMatchObject({ ok: true, problems: [] });
  });

  it('reports, today, exactly the certificates whose not-after is less than 30 days away', async () => {
    const now = new Date();
    const report = await inspectMsp(SAMPLE);
    const expected = report.certificates.filter((c) => Date.parse(c.notAfter) - now.getTime() < 30 * DAY).map((c) => c.file);
    expect(report.expiring.map((e) => e.file).sort()).toEqual(expected.sort());
    expect(report.ok).toBe(report.certificates.every((c) => Date.parse(c.notAfter) > now.getTime()));
  });

  it('lists the TLS certificates (not-after 2027-05-06) on 2027-04-20, soonest first', async () => {
    const report = await inspectMsp(SAMPLE, { now: new Date('2027-04-20T00:00:00Z') });
    expect(report.expiring).toEqual([
      { file: 'tlscacerts/tlsroot.pem', subject: expect.stringMatching(/O=Org2\b/), notAfter: '2027-05-06T09:30:34Z', daysLeft: 16, expired: false },
      { file: 'tlsintermediatecerts/tlsintermediate.pem', subject: expect.stringMatching(/O=Org2-child1/), notAfter: '2027-05-06T09:30:34Z', daysLeft: 16, expired: false },
    ]);
    expect(report.ok).toBe(true);
  });

  it('reports every certificate as expired in 2028', async () => {
    const report = await inspectMsp(SAMPLE, { now: new Date('2028-01-01T00:00:00Z') });
    expect(report.expiring).toHaveLength(5);
    expect(report.expiring.every((e) => e.expired && e.daysLeft < 0)).toBe(true);
    expect(report.ok).toBe(false);
    expect(report.problems).toContain('signcerts/peer.pem expired on 2027-11-10T13:41:11Z');
  });
});

describe('inspectMsp on broken MSP folders', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  beforeAll(async () => {
    tmp = await tempDir();
  });
  afterAll(() => tmp?.remove());

  it('a folder without signcerts is an error saying so', async () => {
    const dir = join(tmp.path, 'no-signcerts');
    await cp(SAMPLE, dir, { recursive: true });
    await rm(join(dir, 'signcerts'), { recursive: true });
    await expect(inspectMsp(dir)).rejects.toThrow(MspError);
    await expect(inspectMsp(dir)).rejects.toThrow(/no signcerts folder/);
  });

  it('an empty signcerts folder is an error too', async () => {
    const dir = join(tmp.path, 'empty-signcerts');
    await cp(SAMPLE, dir, { recursive: true });
    await rm(join(dir, 'signcerts', 'peer.pem'));
    await expect(inspectMsp(dir)).rejects.toThrow(/signcerts holds no certificate/);
  });

  it('a signing certificate from another CA does not chain, and a damaged certificate is reported', async () => {
    const dir = join(tmp.path, 'foreign');
    await cp(SAMPLE, dir, { recursive: true });
    // The TLS root (O=Org2) is not signed by the MSP's CA (ca.org1.example.com).
    await cp(join(SAMPLE, 'tlscacerts', 'tlsroot.pem'), join(dir, 'signcerts', 'other.pem'));
    await mkdir(join(dir, 'intermediatecerts'));
    await writeFile(join(dir, 'intermediatecerts', 'broken.pem'), '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n');
    const report = await inspectMsp(dir, { now: new Date('2026-12-01T00:00:00Z') });
    expect(report.ok).toBe(false);
    expect(report.chains.find((c) => c.file === 'signcerts/other.pem')).toMatchObject({ ok: false });
    expect(report.problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^intermediatecerts\/broken\.pem: the certificate does not parse/),
        expect.stringMatching(/^signcerts\/other\.pem: signcerts\/other\.pem \(issuer .*O=Org2.*\) was not signed by any cacerts certificate/),
      ]),
    );
  });

  it('a folder that does not exist is an error', async () => {
    await expect(inspectMsp(join(tmp.path, 'nope'))).rejects.toThrow(/is not a directory/);
  });
});
