import { EXPOSITION_CONTENT_TYPE, escapeHelp, escapeLabelValue, formatExposition, formatValue, type MetricFamily } from './exposition';

describe('Prometheus text exposition 0.0.4', () => {
  it('writes HELP, then TYPE, then the samples of each family, families and samples in the order given', () => {
    const families: MetricFamily[] = [
      { name: 'b_second', help: 'Listed first though named second.', type: 'gauge', samples: [{ labels: { x: '2' }, value: 2 }, { labels: { x: '1' }, value: 1 }] },
      { name: 'a_first', help: 'A counter.', type: 'counter', samples: [{ value: 7 }] },
    ];
    expect(formatExposition(families)).toBe(
      [
        '# HELP b_second Listed first though named second.',
        '# TYPE b_second gauge',
        'b_second{x="2"} 2',
        'b_second{x="1"} 1',
        '# HELP a_first A counter.',
        '# TYPE a_first counter',
        'a_first 7',
        '',
      ].join('\n'),
    );
  });

  it('ends every line, the last one included, with a line feed, and writes nothing for no families', () => {
    const text = formatExposition([{ name: 'up_like', help: 'h', type: 'gauge', samples: [{ value: 1 }] }]);
    expect(text.endsWith('\n')).toBe(true);
    expect(text.split('\n').at(-1)).toBe('');
    expect(formatExposition([])).toBe('');
  });

  it('keeps HELP and TYPE of a family that has no samples yet', () => {
    expect(formatExposition([{ name: 'none_yet', help: 'Nothing to report.', type: 'gauge', samples: [] }])).toBe('# HELP none_yet Nothing to report.\n# TYPE none_yet gauge\n');
  });

  it('escapes backslash, double quote and line feed in label values, and writes labels in the order given', () => {
    expect(escapeLabelValue('C:\\backups "nightly"\nsecond line')).toBe('C:\\\\backups \\"nightly\\"\\nsecond line');
    const text = formatExposition([{ name: 'm', help: 'h', type: 'gauge', samples: [{ labels: { policy: 'a\\b"c\nd', kind: 'logical' }, value: 1 }] }]);
    expect(text.split('\n')[2]).toBe('m{policy="a\\\\b\\"c\\nd",kind="logical"} 1');
  });

  it('escapes backslash and line feed in HELP but leaves double quotes alone', () => {
    expect(escapeHelp('say "hi"\\n\nnext')).toBe('say "hi"\\\\n\\nnext');
    expect(formatExposition([{ name: 'm', help: 'two\nlines', type: 'untyped', samples: [] }]).split('\n')[0]).toBe('# HELP m two\\nlines');
  });

  it('writes values as Prometheus parses them', () => {
    expect(formatValue(0)).toBe('0');
    expect(formatValue(1763712000.123)).toBe('1763712000.123');
    expect(formatValue(-2.5)).toBe('-2.5');
    expect(formatValue(Number.NaN)).toBe('NaN');
    expect(formatValue(Infinity)).toBe('+Inf');
    expect(formatValue(-Infinity)).toBe('-Inf');
  });

  it('writes a summary as _sum and _count series under one TYPE line', () => {
    const text = formatExposition([
      {
        name: 'job_seconds',
        help: 'h',
        type: 'summary',
        samples: [
          { suffix: '_sum', labels: { policy: 'p' }, value: 12.5 },
          { suffix: '_count', labels: { policy: 'p' }, value: 3 },
        ],
      },
    ]);
    expect(text).toBe('# HELP job_seconds h\n# TYPE job_seconds summary\njob_seconds_sum{policy="p"} 12.5\njob_seconds_count{policy="p"} 3\n');
  });

  it('refuses what Prometheus would reject or misread', () => {
    const gauge = (overrides: Partial<MetricFamily>): MetricFamily => ({ name: 'm', help: 'h', type: 'gauge', samples: [], ...overrides });
    expect(() => formatExposition([gauge({ name: '1starts_with_a_digit' })])).toThrow('not a valid metric name');
    expect(() => formatExposition([gauge({ name: 'has-dash' })])).toThrow('not a valid metric name');
    expect(() => formatExposition([gauge({ samples: [{ labels: { 'bad-label': 'x' }, value: 1 }] })])).toThrow('not a valid label name');
    expect(() => formatExposition([gauge({ samples: [{ labels: { __reserved: 'x' }, value: 1 }] })])).toThrow('not a valid label name');
    expect(() => formatExposition([gauge({}), gauge({})])).toThrow('listed twice');
    expect(() => formatExposition([gauge({ samples: [{ labels: { a: '1', b: '2' }, value: 1 }, { labels: { b: '2', a: '1' }, value: 2 }] })])).toThrow('appears twice');
    expect(() => formatExposition([gauge({ samples: [{ suffix: '_sum', value: 1 }] })])).toThrow('only a summary');
  });

  it('names the content type of version 0.0.4', () => {
    expect(EXPOSITION_CONTENT_TYPE).toBe('text/plain; version=0.0.4; charset=utf-8');
  });
});
