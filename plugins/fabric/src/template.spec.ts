import { PluginError } from '@chainvault/plugin-sdk';
import { checkTemplateCoversHosts, endpointsIn, hostsToMap, mapPath, rewriteConfig } from './template';

const CORE = `peer:
  id: peer0.org1.example.com
  listenAddress: 0.0.0.0:7051
  address: peer0.org1.example.com:7051
  gossip:
    bootstrap: peer1.org1.example.com:8051 peer0.org1.example.com:7051
  fileSystemPath: /var/hyperledger/production
  mspConfigPath: /etc/hyperledger/org1/peers/peer0.org1.example.com/msp
ledger:
  state:
    couchDBConfig:
      couchDBAddress: couchdb0:5984
operations:
  listenAddress: 127.0.0.1:9443
chaincode:
  externalBuilders:
    - path: /var/hyperledger/production/builders
`;

describe('restore templates', () => {
  it('finds the host:port endpoints a config names, leaving out loopback, wildcard, numbers and paths', () => {
    expect(endpointsIn(CORE).map((e) => `${e.host}:${e.port}`).sort()).toEqual(['0.0.0.0:7051', '127.0.0.1:9443', 'couchdb0:5984', 'peer0.org1.example.com:7051', 'peer1.org1.example.com:8051']);
    expect(hostsToMap(CORE)).toEqual(['couchdb0', 'peer0.org1.example.com', 'peer1.org1.example.com']);
    expect(hostsToMap('url: grpcs://orderer.example.com:7050\ntime: 12:30\nfile: /x/orderer.example.com:7050/y')).toEqual(['orderer.example.com']);
  });

  it('rewrites hosts, ports and path prefixes, and nothing else', () => {
    const { text, report } = rewriteConfig(CORE, {
      hosts: { 'peer0.org1.example.com': 'peer0.dr.example.com', 'peer1.org1.example.com': 'peer1.dr.example.com', couchdb0: 'couchdb.dr' },
      ports: { '7051': 9051, '5984': 6984, '9443': 9444 },
      paths: { '/var/hyperledger/production': '/srv/fabric/peer0' },
    });
    expect(text).toBe(`peer:
  id: peer0.dr.example.com
  listenAddress: 0.0.0.0:9051
  address: peer0.dr.example.com:9051
  gossip:
    bootstrap: peer1.dr.example.com:8051 peer0.dr.example.com:9051
  fileSystemPath: /srv/fabric/peer0
  mspConfigPath: /etc/hyperledger/org1/peers/peer0.org1.example.com/msp
ledger:
  state:
    couchDBConfig:
      couchDBAddress: couchdb.dr:6984
operations:
  listenAddress: 127.0.0.1:9444
chaincode:
  externalBuilders:
    - path: /srv/fabric/peer0/builders
`);
    // The MSP path names a host as a folder: folders on disk keep their names.
    expect(report).toEqual({ hosts: 5, ports: 5, paths: 2 });
  });

  it('rewrites ports given under a *port key, and never a longer number that starts the same', () => {
    const yaml = 'General:\n  ListenAddress: 127.0.0.1\n  ListenPort: 7050\nport: 7054\nother: 70500\nurl: http://ca.example.com:70541\n';
    expect(rewriteConfig(yaml, { ports: { '7050': 8050, '7054': 8054 } }).text).toBe('General:\n  ListenAddress: 127.0.0.1\n  ListenPort: 8050\nport: 8054\nother: 70500\nurl: http://ca.example.com:70541\n');
  });

  it('never replaces a value it wrote (a swap of two hosts)', () => {
    expect(rewriteConfig('a: one.example.com:1\nb: two.example.com:2\n', { hosts: { 'one.example.com': 'two.example.com', 'two.example.com': 'one.example.com' } }).text).toBe('a: two.example.com:1\nb: one.example.com:2\n');
  });

  it('refuses a template that leaves a host unmapped, naming it and every file that names it', () => {
    const check = () =>
      checkTemplateCoversHosts({ hosts: { 'peer0.org1.example.com': 'p0' } }, [
        { place: "peer0's core.yaml", hosts: ['peer0.org1.example.com', 'orderer.example.com'] },
        { place: "orderer's orderer.yaml", hosts: ['orderer.example.com'] },
      ]);
    expect(check).toThrow(PluginError);
    expect(check).toThrow("the template leaves a host unmapped: orderer.example.com (in orderer's orderer.yaml, peer0's core.yaml); map each in template.hosts");
    expect(() => checkTemplateCoversHosts({ hosts: { a: 'b' } }, [{ place: 'x', hosts: ['a'] }])).not.toThrow();
  });

  it('maps a path by its longest matching prefix, whole folder names only', () => {
    const template = { paths: { '/var/hyperledger': '/srv', '/var/hyperledger/production': '/data/peer0' } };
    expect(mapPath('/var/hyperledger/production/ledgersData', template)).toBe('/data/peer0/ledgersData');
    expect(mapPath('/var/hyperledger/msp', template)).toBe('/srv/msp');
    expect(mapPath('/var/hyperledger-other/x', template)).toBe('/var/hyperledger-other/x');
    expect(mapPath('/etc/x', undefined)).toBe('/etc/x');
  });
});
