'use strict';

/**
 * The element templates validate (schema of @camunda/element-templates-json-schema plus the
 * project's checks), cover the topics of workers/task_types.py, and the validator refuses broken
 * copies. Paths (defaults: this repository's): BELEDIYE_TEMPLATES, BELEDIYE_TASK_TYPES.
 */

const { test } = require('node:test');
const assert = require('node:assert');
const fs = require('node:fs');
const path = require('node:path');

const { validateTemplates, schemaIsLive, readTaskTypes } = require('../validate-templates');

const ROOT = path.resolve(__dirname, '..');
const TEMPLATES = process.env.BELEDIYE_TEMPLATES || path.join(ROOT, '../../bpmn/.camunda/element-templates/belediye-gorevleri.json');
const TASK_TYPES = process.env.BELEDIYE_TASK_TYPES || path.join(ROOT, '../../workers/task_types.py');

const templates = JSON.parse(fs.readFileSync(TEMPLATES, 'utf8'));
const taskTypes = fs.existsSync(TASK_TYPES) ? readTaskTypes(TASK_TYPES) : undefined;

test('the element templates are valid, one per topic of task_types.py', { skip: !taskTypes && `no ${TASK_TYPES}` }, () => {
  assert.deepStrictEqual(validateTemplates(templates, { taskTypes }), []);
  assert.strictEqual(templates.length, taskTypes.length);
});

test('the schema is live: a template without a name is refused', () => {
  assert.ok(schemaIsLive(templates));
});

test('broken copies are refused', () => {
  const broken = mutation => {
    const copy = JSON.parse(JSON.stringify(templates));
    mutation(copy);
    return validateTemplates(copy, { taskTypes });
  };
  const binding = (template, name) => template.properties.find(p => p.binding.name === name);

  assert.ok(broken(t => { binding(t[0], 'retries').type = 'Boolean'; }).some(e => e.startsWith('schema:')));
  assert.ok(broken(t => { binding(t[0], 'camunda:topic').value = ''; }).length);
  assert.ok(broken(t => { binding(t[0], 'camunda:type').value = 'connector'; }).length);
  assert.ok(broken(t => { binding(t[0], 'retries').value = 'beş'; }).length);
  assert.ok(broken(t => { t[1].properties[1] = { type: 'Hidden', value: 'x', binding: { type: 'other:taskDefinition', property: 'type' } }; })
    .some(e => e.startsWith('schema:')));
  assert.ok(broken(t => { t[0].$schema = 'https://unpkg.com/@camunda/other-element-templates-json-schema/resources/schema.json'; }).length);
  assert.ok(broken(t => { t.pop(); }).some(e => /has no template/.test(e)) || !taskTypes);
});
