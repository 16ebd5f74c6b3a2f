'use strict';

/**
 * Lints every fixture with the package's own .bpmnlintrc, as `npx bpmnlint` does (same moddle
 * extensions, same resolver, import warnings counted as errors), and checks fixtures/expected.json:
 * a good fixture has no report at all, a bad one errors (or "warn:RULE" warnings) from exactly
 * the listed rules ("(import)" = a moddle import warning, e.g. an attribute camunda does not have).
 * Then runs the real CLI once over the good fixtures (exit 0) and once per bad fixture (exit 1).
 *
 * Run from this folder: npm test   (node --test test/)
 */

const { test } = require('node:test');
const assert = require('node:assert');
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const ROOT = path.resolve(__dirname, '..');
process.chdir(ROOT);

const { BpmnModdle } = require('bpmn-moddle');
const Linter = require('bpmnlint/lib/linter');
const NodeResolver = require('bpmnlint/lib/resolver/node-resolver');

const config = JSON.parse(fs.readFileSync(path.join(ROOT, '.bpmnlintrc'), 'utf8'));
const expected = JSON.parse(fs.readFileSync(path.join(ROOT, 'fixtures/expected.json'), 'utf8'));

function createModdle() {
  const extensions = {};
  for (const [ key, file ] of Object.entries(config.moddleExtensions || {})) {
    extensions[key] = require(file);
  }
  return new BpmnModdle(extensions);
}

async function lint(file) {
  const xml = fs.readFileSync(path.join(ROOT, 'fixtures', file), 'utf8');
  const { rootElement, warnings } = await createModdle().fromXML(xml);
  const linter = new Linter({ config, resolver: new NodeResolver() });
  const results = await linter.lint(rootElement);
  const reports = [];
  for (const warning of warnings) {
    reports.push({ rule: '(import)', category: 'error', message: warning.message.split('\n')[0] });
  }
  for (const [ rule, ruleReports ] of Object.entries(results)) {
    for (const report of ruleReports) {
      reports.push({ rule, category: report.category, id: report.id, message: report.message });
    }
  }
  return reports;
}

const listed = Object.keys(expected).sort();
const onDisk = [ 'good', 'bad' ]
  .flatMap(dir => fs.readdirSync(path.join(ROOT, 'fixtures', dir)).filter(f => f.endsWith('.bpmn')).map(f => `${dir}/${f}`))
  .sort();

test('every fixture on disk is listed in expected.json', () => {
  assert.deepStrictEqual(onDisk, listed);
});

for (const [ file, rules ] of Object.entries(expected)) {
  test(`${file} → ${rules.length ? rules.join(', ') : 'no report'}`, async () => {
    const reports = await lint(file);
    const describe = () => reports.map(r => `${r.category} ${r.rule} ${r.id || ''}: ${r.message}`).join('\n');

    if (!rules.length) {
      assert.deepStrictEqual(reports, [], `expected no report, got:\n${describe()}`);
      return;
    }

    const reported = [ ...new Set(reports
      .filter(r => r.category === 'error' || r.category === 'warn')
      .map(r => (r.category === 'warn' ? 'warn:' : '') + r.rule)) ].sort();
    assert.deepStrictEqual(reported, [ ...rules ].sort(), `reports:\n${describe()}`);
  });
}

function cli(files) {
  return spawnSync(process.execPath, [ require.resolve('bpmnlint/bin/bpmnlint.js'), ...files ], {
    cwd: ROOT,
    encoding: 'utf8'
  });
}

test('CLI: bpmnlint passes the good fixtures (exit 0)', () => {
  const run = cli(listed.filter(f => f.startsWith('good/')).map(f => `fixtures/${f}`));
  assert.strictEqual(run.status, 0, run.stdout + run.stderr);
});

test('CLI: bpmnlint fails every bad fixture with an error (exit 1)', () => {
  for (const file of listed.filter(f => f.startsWith('bad/') && expected[f].some(rule => !rule.startsWith('warn:')))) {
    const run = cli([ `fixtures/${file}` ]);
    assert.strictEqual(run.status, 1, `${file}\n${run.stdout}${run.stderr}`);
  }
});
