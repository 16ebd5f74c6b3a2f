'use strict';

const {
  ISO_DURATION,
  is,
  isAny,
  isInExecutableScope,
  getExtensionElements,
  isNonEmpty,
  containsJuel
} = require('../lib/helpers');

/**
 * Every automated step is an external task that the project's workers fetch by topic:
 * camunda:type="external" and a non-empty camunda:topic on every service task (and on send
 * tasks, business rule tasks and message events that are external). The engine refuses a
 * service task without an implementation and an external task without a topic at deployment,
 * but deploys camunda:topic="" (a task no worker ever fetches) and a Java class or bean that
 * this project does not have.
 *
 * The extension properties the workers read (camunda:property) are checked too: retries is a
 * whole number, retryBackOff an ISO-8601 duration, and no name appears twice.
 */
module.exports = function() {

  function check(node, reporter) {

    if (!isAny(node, [ 'bpmn:ServiceTask', 'bpmn:SendTask', 'bpmn:BusinessRuleTask', 'bpmn:MessageEventDefinition' ])) {
      return;
    }

    if (!isInExecutableScope(node)) {
      return;
    }

    const element = is(node, 'bpmn:MessageEventDefinition') ? node.$parent : node;
    const type = node.get('camunda:type');
    const topic = node.get('camunda:topic');

    if (is(node, 'bpmn:ServiceTask') && type !== 'external') {
      const other = [ 'class', 'delegateExpression', 'expression' ]
        .filter(name => node.get('camunda:' + name))
        .map(name => 'camunda:' + name);

      if (getExtensionElements(node, 'camunda:Connector').length) {
        other.push('camunda:connector');
      }

      reporter.report(element.id,
        'Service task must be an external task: camunda:type="external" with a camunda:topic' +
        (other.length ? ` (found ${other.join(', ')}: the project has no Java delegates or connectors, only external task workers)` : ''),
        [ 'type' ]);
    }

    if (type === undefined || type === null || type === '') {
      return;
    }

    if (type !== 'external') {
      return;
    }

    if (!isNonEmpty(topic)) {
      reporter.report(element.id, 'External task must have a non-empty camunda:topic (the worker\'s task type)', [ 'topic' ]);
    } else if (topic !== topic.trim()) {
      reporter.report(element.id, `camunda:topic "${topic}" has leading or trailing blanks: no worker fetches it`, [ 'topic' ]);
    }

    const implementations = [ 'class', 'delegateExpression', 'expression' ].filter(name => node.get('camunda:' + name));
    if (implementations.length) {
      reporter.report(element.id,
        `External task must not also have ${implementations.map(name => 'camunda:' + name).join(', ')}`,
        implementations);
    }

    checkProperties(element, reporter);
  }

  function checkProperties(element, reporter) {
    const seen = new Set();

    for (const properties of getExtensionElements(element, 'camunda:Properties')) {
      for (const property of properties.values || []) {
        const name = property.name;
        const value = property.value;

        if (!isNonEmpty(name)) {
          reporter.report(element.id, 'Extension property (camunda:property) without a name');
          continue;
        }

        if (seen.has(name)) {
          reporter.report(element.id, `Extension property "${name}" is set twice`);
        }
        seen.add(name);

        if (name === 'retries' && !containsJuel(value) && !/^\d+$/.test(String(value || '').trim())) {
          reporter.report(element.id, `Extension property "retries" must be a whole number (found "${value || ''}")`);
        }

        if (name === 'retryBackOff' && !ISO_DURATION.test(String(value || '').trim())) {
          reporter.report(element.id, `Extension property "retryBackOff" must be an ISO-8601 duration such as PT10S (found "${value || ''}")`);
        }
      }
    }
  }

  return { check };
};
