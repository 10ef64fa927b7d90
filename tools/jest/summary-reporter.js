// Ends every test run with one line, `N passed, N failed`, which CI reads; a suite that could
// not run at all (a syntax error, a failing beforeAll) counts as failed even if it had no test.
const { mkdirSync, writeFileSync } = require('node:fs');
const { join } = require('node:path');

class SummaryReporter {
  onRunComplete(_contexts, results) {
    const brokenSuites = results.testResults.filter((suite) => suite.testExecError || (suite.failureMessage && suite.numFailingTests === 0)).length;
    const failed = results.numFailedTests + brokenSuites;
    const line = `${results.numPassedTests} passed, ${failed} failed${results.numPendingTests ? `, ${results.numPendingTests} skipped` : ''}`;
    const dir = join(__dirname, '..', '..', 'tmp');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'test-summary.txt'), `${line}\n`);
    process.stdout.write(`\n${line}\n`);
  }
}

module.exports = SummaryReporter;
