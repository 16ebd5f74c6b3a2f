'use strict';

/**
 * bpmnlint-plugin-belediye: the project's own rules for Camunda 7 (Operaton) diagrams, for what
 * the engine or Tasklist would refuse and Camunda Modeler's rules for Camunda Platform 7 do not
 * check. Every rule is an error in "recommended".
 */
module.exports = {
  configs: {
    recommended: {
      rules: {
        'execution-platform': [ 'error', { version: '7.24.0' } ],
        'executable-process': 'error',
        'history-time-to-live': 'error',
        'external-task': 'error',
        'user-task': 'error',
        'form-ref-exists': [ 'error', { formsDirs: [ '../../bpmn/forms' ] } ],
        'known-namespaces': 'error',
        'juel-expressions': 'error',
        'global': 'warn'
      }
    }
  },
  rules: {
    'execution-platform': './rules/execution-platform',
    'executable-process': './rules/executable-process',
    'history-time-to-live': './rules/history-time-to-live',
    'external-task': './rules/external-task',
    'user-task': './rules/user-task',
    'form-ref-exists': './rules/form-ref-exists',
    'known-namespaces': './rules/known-namespaces',
    'juel-expressions': './rules/juel-expressions',
    'global': './rules/global'
  }
};
