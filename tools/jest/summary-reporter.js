// Ends every test run with one line, `N passed, N failed`, which CI reads; a suite that could
// not run at all (a syntax error, a failing beforeAll) counts as failed even if it had no test.
const { existsSync, mkdirSync, readFileSync, writeFileSync } = require('node:fs');
const { join } = require('node:path');

class SummaryReporter {
  onRunComplete(_contexts, results) {
    const brokenSuites = results.testResults.filter((suite) => suite.testExecError || (suite.failureMessage && suite.numFailingTests === 0)).length;
    let passed = results.numPassedTests;
    let failed = results.numFailedTests + brokenSuites;
    let skipped = results.numPendingTests;
    const dir = join(__dirname, '..', '..', 'tmp');
    const file = join(dir, 'test-summary.txt');
    // A second run of the same `npm test` (tools/jest/run-all.sh) adds its counts to the first's.
    if (process.env.CHAINVAULT_SUMMARY_ADD === '1' && existsSync(file)) {
      const earlier = /(\d+) passed, (\d+) failed(?:, (\d+) skipped)?/.exec(readFileSync(file, 'utf8'));
      if (earlier) {
        passed += Number(earlier[1]);
        failed += Number(earlier[2]);
        skipped += Number(earlier[3] ?? 0);
      } else {
        failed += 1;
      }
    }
    const line = `${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`;
    mkdirSync(dir, { recursive: true });
    writeFileSync(file, `${line}\n`);
    process.stdout.write(`\n${line}\n`);
  }
}

module.exports = SummaryReporter;
