import { FailedAuthLimiter, sourceOf } from './failed-auth-limiter';
import { RequestOriginPolicy, hostNameOf } from './request-origin';

describe('RequestOriginPolicy', () => {
  const loopback = new RequestOriginPolicy({ host: '127.0.0.1' });

  it('serves the loopback names on any port, and nothing else by default', () => {
    for (const host of ['127.0.0.1:4800', 'localhost:4800', 'LOCALHOST', '[::1]:4800', '127.3.2.1']) expect({ host, problem: loopback.problem({ host }) }).toEqual({ host, problem: null });
    for (const host of ['evil.example.com', 'evil.example.com:4800', 'localhost.evil.example', '10.0.0.1:4800', 'a b']) expect(loopback.problem({ host })).toMatch(/is not one this server answers to/);
    expect(loopback.problem({})).toMatch(/no Host header/);
  });

  it('accepts only the same origin (scheme host and port) or the public URL', () => {
    expect(loopback.problem({ host: '127.0.0.1:4800', origin: 'http://127.0.0.1:4800' })).toBeNull();
    expect(loopback.problem({ host: '127.0.0.1:4800', origin: 'http://127.0.0.1:3000' })).toMatch(/refused/);
    expect(loopback.problem({ host: '127.0.0.1:4800', origin: 'http://evil.example.com' })).toMatch(/refused/);
    expect(loopback.problem({ host: '127.0.0.1:4800', origin: 'null' })).toMatch(/refused/);
    expect(loopback.problem({ host: '127.0.0.1:4800', origin: 'chrome-extension://abc' })).toMatch(/refused/);
    const public_ = new RequestOriginPolicy({ host: '0.0.0.0', publicUrl: 'https://vault.example.com', allowedHosts: ['backup.lan'] });
    expect(public_.problem({ host: 'vault.example.com', origin: 'https://vault.example.com' })).toBeNull();
    expect(public_.problem({ host: 'backup.lan:4800' })).toBeNull();
    expect(public_.problem({ host: '0.0.0.0:4800' })).toMatch(/not one this server answers to/);
  });

  it('reads host names from Host values', () => {
    expect(hostNameOf('Example.COM.:443')).toBe('example.com');
    expect(hostNameOf('[::1]:80')).toBe('::1');
    expect(hostNameOf('a/b')).toBeNull();
  });
});

describe('FailedAuthLimiter', () => {
  it('answers at once past the limit, and forgets after the window', () => {
    let now = 0;
    const limiter = new FailedAuthLimiter(3, 60_000, () => now);
    expect([limiter.fail('a'), limiter.fail('a'), limiter.fail('a')]).toEqual([true, true, true]);
    expect(limiter.retryAfter('a')).toBe(60);
    expect(limiter.retryAfter('b')).toBe(0);
    expect(limiter.fail('a')).toBe(false);
    now = 45_000;
    expect(limiter.retryAfter('a')).toBe(15);
    now = 60_000;
    expect(limiter.retryAfter('a')).toBe(0);
    expect(limiter.fail('a')).toBe(true);
  });
});

describe('sourceOf', () => {
  it('counts IPv4 by address and IPv6 by /64', () => {
    expect(sourceOf('127.0.0.1')).toBe('127.0.0.1');
    expect(sourceOf('::ffff:10.1.2.3')).toBe('10.1.2.3');
    expect(sourceOf('2001:db8:0:1:aaaa::1')).toBe('2001:db8:0:1::/64');
    expect(sourceOf('2001:db8:0:1:bbbb:cccc:dddd:eeee')).toBe('2001:db8:0:1::/64');
    expect(sourceOf('::1')).toBe('0:0:0:0::/64');
  });

  it('caps what is audited over all sources, whatever each sends', () => {
    const limiter = new FailedAuthLimiter(30, 60_000, () => 0, 5);
    const audited = Array.from({ length: 8 }, (_, i) => limiter.fail(`127.0.${i}.1`));
    expect(audited).toEqual([true, true, true, true, true, false, false, false]);
    // Rotating addresses get no 429 (each is under its own limit), but no longer fill the audit.
    expect(limiter.retryAfter('127.0.7.1')).toBe(0);
  });
});
