import { PluginError } from '@chainvault/plugin-sdk';
import { checkNodeConfig, fillCommand } from './config';
import { parseOperatorOutput } from './network';

describe('what the operator and the db editor print', () => {
  it('reads the JSON of wedge stop and wedge status, and the Python dict of unwedge', () => {
    expect(parseOperatorOutput('{"succ":true} \n')).toEqual({ succ: true });
    expect(parseOperatorOutput('{"192.168.100.107":true,"192.168.100.108":false}')).toEqual({ '192.168.100.107': true, '192.168.100.108': false });
    expect(parseOperatorOutput("# unwedge all replicas\n{'succ': True}\n")).toEqual({ succ: true });
    expect(parseOperatorOutput("{'succ': False, 'reason': None}")).toEqual({ succ: false, reason: null });
    expect(parseOperatorOutput('{\n  "lastReachableBlockID": "150"\n}\n')).toEqual({ lastReachableBlockID: '150' });
  });

  it('says what it got when the answer is not one', () => {
    expect(() => parseOperatorOutput('connection refused')).toThrow(/printed no answer: connection refused/);
    expect(() => parseOperatorOutput('{succ: maybe}')).toThrow(PluginError);
  });
});

describe('command templates', () => {
  it('puts arguments in as words, or inside a shell line', () => {
    expect(fillCommand(['node', 'concop.js', '{args}'], { args: ['wedge', 'status'] })).toEqual(['node', 'concop.js', 'wedge', 'status']);
    expect(fillCommand(['sudo', 'docker', 'exec', 'operator', 'sh', '-c', './concop {args}'], { args: ['wedge', 'stop'] })).toEqual(['sudo', 'docker', 'exec', 'operator', 'sh', '-c', './concop wedge stop']);
    expect(fillCommand(['--mount', 'type=bind,source={dataDirectory},target=/x', '{query}'], { dataDirectory: ['/mnt/data/rocksdbdata'], query: ['getLastBlockID'] })).toEqual([
      '--mount',
      'type=bind,source=/mnt/data/rocksdbdata,target=/x',
      'getLastBlockID',
    ]);
  });

  it('refuses node configs that could not work', () => {
    expect(() => checkNodeConfig({ agentUrl: 'https://127.0.0.1:8546' })).toThrow(/http: URL/);
    expect(() => checkNodeConfig({ dataDirectory: 'data' })).toThrow(/dataDirectory must be an absolute path/);
    expect(() => checkNodeConfig({ operatorCommand: ['concop'] })).toThrow(/\{args\}/);
    expect(() => checkNodeConfig({ blockIdCommand: ['editor', '{dataDirectory}'] })).toThrow(/\{query\}/);
    expect(() => checkNodeConfig({ agentUrl: 'http://127.0.0.1:8546', operatorCommand: ['concop', '{args}'] })).not.toThrow();
  });
});
