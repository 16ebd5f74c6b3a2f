'use strict';

const {
  is,
  isInExecutableScope,
  isNonEmpty
} = require('../lib/helpers');

/**
 * Every human step shows a Camunda Form in Tasklist and reaches someone:
 * camunda:formRef="<form id>" with camunda:formRefBinding="deployment" (the form is deployed
 * together with the diagram), and camunda:candidateGroups or camunda:assignee. The engine deploys
 * a user task without any of these: Tasklist then shows no form, and no one but an administrator
 * sees the task.
 */
module.exports = function() {

  function check(node, reporter) {

    if (!is(node, 'bpmn:UserTask') || !isInExecutableScope(node)) {
      return;
    }

    const formRef = node.get('camunda:formRef');
    const formRefBinding = node.get('camunda:formRefBinding');
    const formKey = node.get('camunda:formKey');

    if (isNonEmpty(formKey)) {
      reporter.report(node.id,
        'camunda:formKey (embedded or external form) is not used in this project: link the Camunda Form with camunda:formRef',
        [ 'formKey' ]);
    }

    if (!isNonEmpty(formRef)) {
      reporter.report(node.id,
        'User task must link its Camunda Form: camunda:formRef="<form id>" with camunda:formRefBinding="deployment"',
        [ 'formRef' ]);
    } else if (formRefBinding !== 'deployment') {
      reporter.report(node.id,
        `camunda:formRefBinding must be "deployment" (the form is deployed with the diagram), found ${formRefBinding ? '"' + formRefBinding + '"' : 'none (the engine then takes the latest form of that id)'}`,
        [ 'formRefBinding' ]);
    }

    const candidateGroups = node.get('camunda:candidateGroups');
    const assignee = node.get('camunda:assignee');

    if (!isNonEmpty(candidateGroups) && !isNonEmpty(assignee)) {
      reporter.report(node.id,
        'User task must have camunda:candidateGroups or camunda:assignee (otherwise only an administrator sees it in Tasklist)',
        [ 'candidateGroups' ]);
    }
  }

  return { check };
};
