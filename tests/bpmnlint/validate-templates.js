#!/usr/bin/env node
'use strict';

/**
 * Validates Camunda 7 element templates (external-task service tasks) against the JSON schema of
 * the npm package @camunda/element-templates-json-schema (draft-07, with ajv), then checks what the
 * project expects of its own templates:
 *   - $schema is the Camunda 7 schema (not the Camunda 8 one), appliesTo is [ "bpmn:ServiceTask" ];
 *   - camunda:type is fixed to "external" and camunda:topic is fixed and non-empty (Hidden);
 *   - ids (with version) and topics are unique, camunda:property names unique within a template;
 *   - a "retries" extension property with a whole-number default;
 *   - each default value meets its own constraints (notEmpty, pattern) and a Dropdown's default is
 *     one of its choices;
 *   - names and descriptions are Turkish;
 *   - with --task-types FILE (workers/task_types.py): one template per topic constant, no other.
 * The schema is shown to be live: a copy of the first template without "name" must be refused.
 *
 * Usage: node validate-templates.js [--task-types ../../workers/task_types.py] FILE.json...
 *        npm run validate-templates
 */

const fs = require('node:fs');
const path = require('node:path');
const Ajv = require('ajv');

const SCHEMA_PATH = require.resolve('@camunda/element-templates-json-schema/resources/schema.json');
const SCHEMA_VERSION = require('@camunda/element-templates-json-schema/package.json').version;
const TURKISH = /[çğıöşüÇĞİÖŞÜ]/;

function createValidator() {
  const schema = JSON.parse(fs.readFileSync(SCHEMA_PATH, 'utf8'));
  // strict: false — the schema carries annotations ajv's strict mode does not know ("examples" in
  // allOf, nested $schema); they do not change what is valid.
  const ajv = new Ajv({ allErrors: true, strict: false });
  return ajv.compile(schema);
}

function schemaErrors(validate, templates) {
  if (validate(templates)) {
    return [];
  }
  let errors = validate.errors;
  // The schema accepts one template or a list (oneOf): for a list, drop the root-level "must be
  // object" / "must match exactly one schema in oneOf" that only repeat the deeper errors.
  if (Array.isArray(templates) && errors.some(error => error.instancePath)) {
    errors = errors.filter(error => error.instancePath || ![ 'type', 'oneOf' ].includes(error.keyword));
  }
  return errors.map(error => `schema: ${error.instancePath || '/'} ${error.message}${error.params && error.params.allowedValues ? ' ' + JSON.stringify(error.params.allowedValues) : ''}`);
}

function readTaskTypes(file) {
  const source = fs.readFileSync(file, 'utf8');
  return [ ...source.matchAll(/^[A-Z][A-Z0-9_]* = "([^"]+)"/gm) ].map(match => match[1]);
}

function matchesPattern(value, pattern) {
  const source = typeof pattern === 'string' ? pattern : pattern.value;
  return new RegExp(source).test(value);
}

function projectErrors(templates, taskTypes) {
  const errors = [];
  const ids = new Set();
  const topics = new Map();

  templates.forEach((template, index) => {
    const where = `template ${index} (${template.id || '?'})`;
    const properties = Array.isArray(template.properties) ? template.properties : [];
    const fixed = name => properties.filter(p => p.binding && p.binding.type === 'property' && p.binding.name === name);

    if (typeof template.$schema !== 'string' || !/\/@camunda\/element-templates-json-schema[@/]/.test(template.$schema)) {
      errors.push(`${where}: $schema must be the Camunda 7 schema (…/@camunda/element-templates-json-schema/resources/schema.json), found ${JSON.stringify(template.$schema)}`);
    }

    if (JSON.stringify(template.appliesTo) !== JSON.stringify([ 'bpmn:ServiceTask' ])) {
      errors.push(`${where}: appliesTo must be [ "bpmn:ServiceTask" ], found ${JSON.stringify(template.appliesTo)}`);
    }

    const key = `${template.id}@${template.version}`;
    if (ids.has(key)) {
      errors.push(`${where}: id ${template.id} version ${template.version} appears twice`);
    }
    ids.add(key);

    const type = fixed('camunda:type');
    if (type.length !== 1 || type[0].type !== 'Hidden' || type[0].value !== 'external') {
      errors.push(`${where}: needs exactly one Hidden property binding camunda:type with value "external"`);
    }

    const topic = fixed('camunda:topic');
    if (topic.length !== 1 || topic[0].type !== 'Hidden' || typeof topic[0].value !== 'string' || !topic[0].value.trim()) {
      errors.push(`${where}: needs exactly one Hidden property binding camunda:topic with a non-empty value`);
    } else {
      const value = topic[0].value;
      if (topics.has(value)) {
        errors.push(`${where}: topic ${value} already has template ${topics.get(value)}`);
      }
      topics.set(value, template.id);
    }

    const names = new Set();
    for (const property of properties) {
      const binding = property.binding || {};
      if (binding.type !== 'camunda:property') {
        continue;
      }
      if (names.has(binding.name)) {
        errors.push(`${where}: extension property ${binding.name} is bound twice`);
      }
      names.add(binding.name);

      if (!property.label || !property.description) {
        errors.push(`${where}: extension property ${binding.name} needs a label and a description`);
      }

      const value = property.value;
      const constraints = property.constraints || {};
      if (value !== undefined) {
        if (constraints.pattern && !matchesPattern(String(value), constraints.pattern)) {
          errors.push(`${where}: default ${JSON.stringify(value)} of ${binding.name} does not match its own pattern`);
        }
        if (property.type === 'Dropdown' && !(property.choices || []).some(choice => choice.value === value)) {
          errors.push(`${where}: default ${JSON.stringify(value)} of ${binding.name} is not one of its choices`);
        }
      } else if (property.type === 'Hidden' && constraints.notEmpty) {
        errors.push(`${where}: Hidden ${binding.name} with notEmpty needs a value`);
      }
    }

    const retries = properties.find(p => p.binding && p.binding.type === 'camunda:property' && p.binding.name === 'retries');
    if (!retries || !/^\d+$/.test(String(retries.value))) {
      errors.push(`${where}: needs extension property "retries" with a whole-number default`);
    }

    if (!TURKISH.test(`${template.name || ''} ${template.description || ''}`)) {
      errors.push(`${where}: name and description are not in Turkish`);
    }
  });

  if (taskTypes) {
    const wanted = new Set(taskTypes);
    for (const value of wanted) {
      if (!topics.has(value)) {
        errors.push(`topic ${value} (task_types.py) has no template`);
      }
    }
    for (const [ value, id ] of topics) {
      if (!wanted.has(value)) {
        errors.push(`template ${id}: topic ${value} is not in task_types.py`);
      }
    }
  }

  return errors;
}

/** All errors for the given list of templates (empty when valid). */
function validateTemplates(templates, { taskTypes } = {}) {
  const validate = createValidator();
  return [ ...schemaErrors(validate, templates), ...(Array.isArray(templates) ? projectErrors(templates, taskTypes) : []) ];
}

/** The schema refuses an obviously broken template (guards against validating nothing). */
function schemaIsLive(templates) {
  const validate = createValidator();
  const broken = JSON.parse(JSON.stringify(templates.slice(0, 1)));
  if (!broken.length) {
    return false;
  }
  delete broken[0].name;
  return !validate(broken);
}

function main(argv) {
  const args = [ ...argv ];
  let taskTypes;
  const files = [];
  while (args.length) {
    const arg = args.shift();
    if (arg === '--task-types') {
      taskTypes = readTaskTypes(args.shift());
    } else {
      files.push(arg);
    }
  }
  if (!files.length) {
    console.error('usage: node validate-templates.js [--task-types task_types.py] FILE.json...');
    return 2;
  }

  let failed = false;
  for (const file of files) {
    let templates;
    try {
      templates = JSON.parse(fs.readFileSync(file, 'utf8'));
    } catch (error) {
      console.error(`${file}: ${error.message}`);
      failed = true;
      continue;
    }
    const errors = validateTemplates(templates, { taskTypes });
    if (!schemaIsLive(Array.isArray(templates) ? templates : [ templates ])) {
      errors.push('the schema accepted a template without "name": the validator checks nothing');
    }
    if (errors.length) {
      failed = true;
      console.error(`${path.resolve(file)}: ${errors.length} problem(s)`);
      errors.forEach(error => console.error(`  ${error}`));
    } else {
      const count = Array.isArray(templates) ? templates.length : 1;
      console.log(`${path.resolve(file)}: ${count} template(s) valid (@camunda/element-templates-json-schema ${SCHEMA_VERSION}${taskTypes ? `, ${taskTypes.length} topics of task_types.py` : ''})`);
    }
  }
  return failed ? 1 : 0;
}

module.exports = { validateTemplates, schemaIsLive, readTaskTypes };

if (require.main === module) {
  process.exitCode = main(process.argv.slice(2));
}
