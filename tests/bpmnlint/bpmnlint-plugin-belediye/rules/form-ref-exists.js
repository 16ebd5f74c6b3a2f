'use strict';

const fs = require('node:fs');
const path = require('node:path');

const {
  is,
  isInExecutableScope,
  isNonEmpty,
  containsJuel
} = require('../lib/helpers');

/**
 * The form a user task links (camunda:formRef) exists among the project's forms, and that form is
 * a Camunda 7 form ("executionPlatform": "Camunda Platform"). The engine does not check this at
 * deployment: Tasklist fails when the task is opened.
 *
 * Config: { "formsDirs": [ "../../bpmn/forms", ... ] } (relative to the folder bpmnlint runs in).
 */
module.exports = function(config = {}) {

  const formsDirs = (config.formsDirs || (config.formsDir ? [ config.formsDir ] : []))
    .map(dir => path.resolve(process.cwd(), dir));

  let forms = null;
  let readErrors = [];

  function loadForms() {
    if (forms) {
      return forms;
    }
    forms = new Map();
    for (const dir of formsDirs) {
      if (!fs.existsSync(dir)) {
        continue;
      }
      for (const file of fs.readdirSync(dir).filter(name => name.endsWith('.form')).sort()) {
        const filePath = path.join(dir, file);
        try {
          const form = JSON.parse(fs.readFileSync(filePath, 'utf8'));
          if (form && typeof form.id === 'string' && !forms.has(form.id)) {
            forms.set(form.id, { file: path.relative(process.cwd(), filePath), form });
          }
        } catch (error) {
          readErrors.push(`${filePath}: ${error.message}`);
        }
      }
    }
    return forms;
  }

  function check(node, reporter) {

    if (is(node, 'bpmn:Definitions')) {
      if (!formsDirs.length || !formsDirs.some(dir => fs.existsSync(dir))) {
        reporter.report(node.id, `No forms folder found (rule config formsDirs: ${JSON.stringify(config.formsDirs || config.formsDir || [])}, relative to ${process.cwd()})`);
      }
      loadForms();
      for (const error of readErrors) {
        reporter.report(node.id, `Form file is not valid JSON: ${error}`);
      }
      readErrors = [];
      return;
    }

    if (!(is(node, 'bpmn:UserTask') || is(node, 'bpmn:StartEvent')) || !isInExecutableScope(node)) {
      return;
    }

    const formRef = node.get('camunda:formRef');

    if (!isNonEmpty(formRef) || containsJuel(formRef)) {
      return;
    }

    const found = loadForms().get(formRef);

    if (!found) {
      reporter.report(node.id, `No form with id "${formRef}" in ${formsDirs.map(dir => path.relative(process.cwd(), dir) || '.').join(', ')}`, [ 'formRef' ]);
      return;
    }

    const platform = found.form.executionPlatform;
    if (platform !== 'Camunda Platform') {
      reporter.report(node.id,
        `Form "${formRef}" (${found.file}) has executionPlatform ${JSON.stringify(platform)}, not "Camunda Platform"`,
        [ 'formRef' ]);
    }
  }

  return { check };
};
