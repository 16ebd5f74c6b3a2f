'use strict';

const bpmnlintGlobal = require('bpmnlint/rules/global');

const { is, getExtensionElements } = require('../lib/helpers');

/**
 * bpmnlint's "global" rule (global errors, escalations, messages and signals have a unique name
 * and are used), knowing one Camunda 7 reference it does not: an external task's
 * <camunda:errorEventDefinition errorRef="…"> uses a bpmn:Error. bpmnlint's rule calls such an
 * error "unused" (a warning on a diagram the engine deploys and runs), so .bpmnlintrc turns
 * "global" off and uses this one.
 */
module.exports = function(config) {

  const rule = bpmnlintGlobal(config);

  function camundaErrorRefs(definitions) {
    const ids = new Set();
    const visit = element => {
      for (const errorEventDefinition of getExtensionElements(element, 'camunda:ErrorEventDefinition')) {
        const ref = errorEventDefinition.errorRef;
        if (ref && ref.id) {
          ids.add(ref.id);
        }
      }
      for (const child of element.flowElements || []) {
        visit(child);
      }
    };
    for (const rootElement of definitions.rootElements || []) {
      visit(rootElement);
    }
    return ids;
  }

  function check(node, reporter) {
    if (!is(node, 'bpmn:Definitions')) {
      return rule.check(node, reporter);
    }

    const used = camundaErrorRefs(node);
    const filtering = {
      report(id, message, ...rest) {
        if (message === 'Element is unused' && used.has(id)) {
          return;
        }
        return reporter.report(id, message, ...rest);
      }
    };
    return rule.check(node, filtering);
  }

  return { ...rule, check };
};
