import { join } from 'node:path';
import { FABRIC } from './__fixtures__/fabric';
import { decodeConfigBlock, effectiveConfig, readConfigBlock } from './config-block';

const block = (name: string) => readConfigBlock(join(FABRIC, 'config-blocks', name));

describe('config blocks (fixtures README §2.3)', () => {
  it('kafka-mychannel.block: genesis of mychannel, kafka, OrdererOrg and Org1MSP…Org3MSP', async () => {
    const summary = await block('kafka-mychannel.block');
    expect(summary).toMatchObject({
      number: 0,
      headerHash: 'c347d9b71a4749a895ac145cfe4cf4906018f5adba9d13fe63aee32e7b7a5c1b',
      previousHash: '',
      dataHashOk: true,
      transactions: 1,
      metadataEntries: 4,
    });
    expect(summary.config).toMatchObject({ channel: 'mychannel', headerType: 'CONFIG', consensusType: 'kafka', timestamp: '2018-10-18T11:39:58Z' });
    expect(summary.config.kafkaBrokers).toEqual(['kafka0:9092', 'kafka1:9092', 'kafka2:9092', 'kafka3:9092']);
    expect(summary.config.ordererAddresses).toEqual(['orderer.example.com:7050']);
    expect(summary.config.warnings).toEqual([]);
    expect(summary.config.ordererOrgs.map((o) => o.name)).toEqual(['OrdererOrg']);
    expect(summary.config.applicationOrgs.map((o) => o.mspId)).toEqual(['Org1MSP', 'Org2MSP', 'Org3MSP']);
  });

  it('etcdraftgenesis.block: genesis of testchannel, etcdraft with its consenters, OrdererOrg, Org1 and Org2', async () => {
    const summary = await block('etcdraftgenesis.block');
    expect(summary).toMatchObject({ number: 0, headerHash: 'ccbea95defc85273ab862379a6cc41f1d36f1ecaca963f07cd07a068d903530a', dataHashOk: true });
    expect(summary.config).toMatchObject({ channel: 'testchannel', consensusType: 'etcdraft', consensusState: 'STATE_NORMAL' });
    // Its etcdraft Options predate Fabric 1.4.0's field types: the consenters are still read.
    expect(summary.config.consenters).toEqual(['127.0.0.1:33000', '127.0.0.1:33002', '127.0.0.1:33004']);
    expect(summary.config.warnings).toEqual([]);
    expect(summary.config.ordererOrgs.map((o) => o.name)).toEqual(['OrdererOrg']);
    expect(summary.config.applicationOrgs.map((o) => [o.name, o.mspId])).toEqual([
      ['Org1', 'Org1MSP'],
      ['Org2', 'Org2MSP'],
    ]);
  });

  it('smartbft-mychannel.block: genesis of mychannel, BFT with its consenter mapping, Org1MSP and Org2MSP', async () => {
    const summary = await block('smartbft-mychannel.block');
    expect(summary).toMatchObject({ number: 0, headerHash: '5208458d23ec6370e708dd2b63b33451f7dfaba00c1b27571f843152c2239278', metadataEntries: 5 });
    expect(summary.config).toMatchObject({ channel: 'mychannel', consensusType: 'BFT' });
    expect(summary.config.consenters).toEqual(['127.0.0.1:6050', '127.0.0.1:6051', '127.0.0.1:6052', '127.0.0.1:6053']);
    expect(summary.config.capabilities.application).toEqual(['V2_5']);
    expect(summary.config.ordererOrgs.map((o) => o.name)).toEqual(['OrdererOrg']);
    expect(summary.config.applicationOrgs.map((o) => [o.mspId, o.anchorPeers])).toEqual([
      ['Org1MSP', ['127.0.0.1:7051']],
      ['Org2MSP', ['127.0.0.1:7055']],
    ]);
  });

  it('block3.pb: block 3 of the system channel, an ORDERER_TRANSACTION creating channel bar (kafka, Org1MSP…Org3MSP)', async () => {
    const summary = await block('block3.pb');
    expect(summary).toMatchObject({
      number: 3,
      headerHash: '9eda840b6b63715831df6f3c8f09321d8944bc57ca06f8301ef982d382d6ef76',
      dataHashOk: true,
    });
    expect(summary.previousHash).toMatch(/^2d7fba79.*0866$/);
    expect(summary.config).toMatchObject({ channel: 'e2e-orderer-syschan', headerType: 'ORDERER_TRANSACTION' });
    const inner = effectiveConfig(summary.config);
    expect(inner).toMatchObject({ channel: 'bar', headerType: 'CONFIG', consensusType: 'kafka' });
    expect(inner.applicationOrgs.map((o) => o.mspId)).toEqual(['Org1MSP', 'Org2MSP', 'Org3MSP']);
  });

  it('rejects bytes that are not a configuration block', () => {
    expect(() => decodeConfigBlock(Buffer.from('not a block'))).toThrow();
  });
});
