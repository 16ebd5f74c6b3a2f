'use strict';

const {
  ISO_DURATION,
  ISO_DATE_TIME,
  is,
  isInExecutableScope,
  ownerId,
  getExtensionElements,
  isNonEmpty,
  isFeel,
  isJuelExpression,
  containsJuel,
  feelIdiomInJuel
} = require('../lib/helpers');

/**
 * Expressions are JUEL (${…} / #{…}), never FEEL (a leading "="), wherever the engine evaluates
 * them: sequence flow and conditional event conditions, multi-instance collection, cardinality
 * and completion condition, timers, user task assignment (candidate groups and users, assignee),
 * due and follow-up dates, priority, the called element, call activity variable mappings
 * (camunda:in / camunda:out), input/output parameters, an external task's
 * camunda:errorEventDefinition expression, message and signal names.
 *
 * Further:
 * - a condition is one whole JUEL expression (the engine needs a boolean; text around ${…} makes
 *   it a string), unless it names a script language;
 * - a single "=" inside ${…} is FEEL equality (JUEL: "==" or "eq");
 * - candidate groups/users without ${…} are a comma-separated list, not a FEEL list ([…], "…");
 * - a timer without ${…} is, by kind, an ISO-8601 date-time, an ISO-8601 duration, or a cycle
 *   (ISO-8601 repetition R…/… or a cron expression with 6 or 7 fields, seconds first).
 * The engine deploys all of these and fails only when the element is reached.
 */
module.exports = function() {

  function report(reporter, node, what, value, problem) {
    reporter.report(ownerId(node), `${what}: ${problem} (found "${String(value).trim()}")`);
  }

  /** Any evaluated value: not FEEL, no FEEL idiom inside ${…}. True when fine. */
  function checkValue(reporter, node, what, value) {
    if (!isNonEmpty(value)) {
      return true;
    }
    if (isFeel(value)) {
      report(reporter, node, what, value, 'FEEL expression; write JUEL ${…}');
      return false;
    }
    const idiom = feelIdiomInJuel(value);
    if (idiom) {
      report(reporter, node, what, value, idiom);
      return false;
    }
    return true;
  }

  function checkCondition(reporter, node, what, expression) {
    if (!expression) {
      return;
    }
    const body = expression.body;
    if (!isNonEmpty(body)) {
      if (!expression.get('camunda:resource')) {
        reporter.report(ownerId(node), `${what} is empty`);
      }
      return;
    }
    if (!checkValue(reporter, node, what, body)) {
      return;
    }
    if (!expression.language && !isJuelExpression(body)) {
      report(reporter, node, what, body, 'a condition must be one JUEL expression ${…} (it must evaluate to a boolean)');
    }
  }

  function checkTimer(reporter, node, kind, expression) {
    if (!expression) {
      return;
    }
    const what = `Timer ${kind}`;
    const body = expression.body;
    if (!isNonEmpty(body)) {
      reporter.report(ownerId(node), `${what} is empty`);
      return;
    }
    if (!checkValue(reporter, node, what, body) || containsJuel(body)) {
      return;
    }
    const text = body.trim();
    if (kind === 'timeDuration' && !ISO_DURATION.test(text)) {
      report(reporter, node, what, body, 'not an ISO-8601 duration such as PT5M or P2D');
    }
    if (kind === 'timeDate' && !ISO_DATE_TIME.test(text)) {
      report(reporter, node, what, body, 'not an ISO-8601 date-time such as 2026-12-01T09:00:00Z');
    }
    if (kind === 'timeCycle') {
      if (/^R\d*\//.test(text)) {
        const parts = text.split('/');
        if (parts.length < 2 || parts.length > 3 || !parts.slice(1).some(part => ISO_DURATION.test(part))) {
          report(reporter, node, what, body, 'not an ISO-8601 repetition such as R/PT1H or R3/2026-12-01T09:00:00Z/P1D');
        }
      } else {
        const fields = text.split(/\s+/);
        if (fields.length < 6 || fields.length > 7) {
          report(reporter, node, what, body, `a cron cycle has 6 or 7 fields, seconds first (e.g. "0 30 2 * * ?"), found ${fields.length}`);
        }
      }
    }
  }

  function checkAssignmentList(reporter, node, what, value) {
    if (!isNonEmpty(value) || !checkValue(reporter, node, what, value) || containsJuel(value)) {
      return;
    }
    if (/[[\]"']/.test(value)) {
      report(reporter, node, what, value, 'a comma-separated list of ids or a JUEL expression, not a FEEL list');
    }
  }

  function checkParameterDefinition(reporter, node, what, definition) {
    if (!definition) {
      return;
    }
    if (is(definition, 'camunda:List')) {
      (definition.items || []).forEach(item => checkParameterDefinition(reporter, node, what, item));
    } else if (is(definition, 'camunda:Map')) {
      (definition.entries || []).forEach(entry => {
        checkValue(reporter, node, `${what} entry "${entry.key}"`, entry.value);
        checkParameterDefinition(reporter, node, `${what} entry "${entry.key}"`, entry.definition);
      });
    } else if (is(definition, 'camunda:Value')) {
      checkValue(reporter, node, what, definition.value);
    }
  }

  function check(node, reporter) {

    if (!isInExecutableScope(node)) {
      return;
    }

    if (is(node, 'bpmn:SequenceFlow')) {
      checkCondition(reporter, node, 'Condition', node.conditionExpression);
    }

    if (is(node, 'bpmn:ConditionalEventDefinition')) {
      checkCondition(reporter, node, 'Condition', node.condition);
    }

    if (is(node, 'bpmn:MultiInstanceLoopCharacteristics')) {
      checkValue(reporter, node, 'Multi-instance camunda:collection', node.get('camunda:collection'));
      if (node.loopCardinality) {
        checkValue(reporter, node, 'Multi-instance loop cardinality', node.loopCardinality.body);
      }
      checkCondition(reporter, node, 'Multi-instance completion condition', node.completionCondition);
    }

    if (is(node, 'bpmn:TimerEventDefinition')) {
      checkTimer(reporter, node, 'timeDate', node.timeDate);
      checkTimer(reporter, node, 'timeDuration', node.timeDuration);
      checkTimer(reporter, node, 'timeCycle', node.timeCycle);
    }

    if (is(node, 'bpmn:UserTask')) {
      checkAssignmentList(reporter, node, 'camunda:candidateGroups', node.get('camunda:candidateGroups'));
      checkAssignmentList(reporter, node, 'camunda:candidateUsers', node.get('camunda:candidateUsers'));
      for (const name of [ 'assignee', 'dueDate', 'followUpDate', 'priority' ]) {
        checkValue(reporter, node, 'camunda:' + name, node.get('camunda:' + name));
      }
    }

    if (is(node, 'bpmn:CallActivity')) {
      checkValue(reporter, node, 'calledElement', node.calledElement);
      for (const binding of [ ...getExtensionElements(node, 'camunda:In'), ...getExtensionElements(node, 'camunda:Out') ]) {
        const tag = is(binding, 'camunda:In') ? 'camunda:in' : 'camunda:out';
        checkValue(reporter, node, `${tag} sourceExpression`, binding.sourceExpression);
        checkValue(reporter, node, `${tag} businessKey`, binding.businessKey);
        if (isFeel(binding.source)) {
          report(reporter, node, `${tag} source`, binding.source, 'FEEL expression; a variable name, or sourceExpression="${…}"');
        }
      }
    }

    if (is(node, 'camunda:InputOutputParameter')) {
      const what = `${is(node, 'camunda:InputParameter') ? 'camunda:inputParameter' : 'camunda:outputParameter'} "${node.name}"`;
      checkValue(reporter, node, what, node.value);
      checkParameterDefinition(reporter, node, what, node.definition);
    }

    if (is(node, 'camunda:ErrorEventDefinition')) {
      const expression = node.expression;
      if (checkValue(reporter, node, 'camunda:errorEventDefinition expression', expression) &&
          isNonEmpty(expression) && !isJuelExpression(expression)) {
        report(reporter, node, 'camunda:errorEventDefinition expression', expression, 'must be one JUEL expression ${…} (it must evaluate to a boolean)');
      }
    }

    if (is(node, 'bpmn:Message') || is(node, 'bpmn:Signal')) {
      checkValue(reporter, node, `${node.$type.replace('bpmn:', '')} name`, node.name);
    }
  }

  return { check };
};
