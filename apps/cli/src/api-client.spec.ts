import { serverUrl } from './api-client';

describe('serverUrl', () => {
  it('takes host:port without a scheme as http', () => {
    expect(serverUrl({ CHAINVAULT_URL: '127.0.0.1:4800' })).toBe('http://127.0.0.1:4800');
    expect(serverUrl({ CHAINVAULT_URL: 'localhost:4800' })).toBe('http://localhost:4800');
    expect(serverUrl({ CHAINVAULT_URL: 'backup.example.com' })).toBe('http://backup.example.com');
    expect(serverUrl({ CHAINVAULT_URL: '[::1]:4800/' })).toBe('http://[::1]:4800');
  });

  it('keeps a URL with a scheme, and a path behind a proxy', () => {
    expect(serverUrl({ CHAINVAULT_URL: 'https://backup.example.com/chainvault/' })).toBe('https://backup.example.com/chainvault');
    expect(serverUrl({ CHAINVAULT_URL: 'http://127.0.0.1:4800' })).toBe('http://127.0.0.1:4800');
  });

  it('refuses what is not a server address, saying what is', () => {
    expect(() => serverUrl({ CHAINVAULT_URL: 'not a url' })).toThrow(/CHAINVAULT_URL must be the server's address, such as http:\/\/127\.0\.0\.1:4800.*"not a url" is not a URL/);
    expect(() => serverUrl({ CHAINVAULT_URL: 'ftp://host:21' })).toThrow(/has scheme ftp; use http or https/);
    expect(() => serverUrl({ CHAINVAULT_URL: 'http://127.0.0.1:4800?token=x' })).toThrow(/query/);
  });

  it('without CHAINVAULT_URL, is where serve listens', () => {
    expect(serverUrl({})).toBe('http://127.0.0.1:4800');
    expect(serverUrl({ CHAINVAULT_HOST: '::1', CHAINVAULT_PORT: '4900', CHAINVAULT_TLS_CERT: '/c.pem' })).toBe('https://[::1]:4900');
  });
});
