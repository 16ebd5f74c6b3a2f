'use strict';

/**
 * Small helpers shared by the rules (no dependencies: the plugin is linked from a folder).
 */

/**
 * The only XML namespaces a diagram may declare or use (URI: what it is); see known-namespaces.
 */
const KNOWN_NAMESPACES = Object.freeze({
  'http://www.omg.org/spec/BPMN/20100524/MODEL': 'BPMN 2.0 model',
  'http://www.omg.org/spec/BPMN/20100524/DI': 'BPMNDI',
  'http://www.omg.org/spec/DD/20100524/DC': 'DC',
  'http://www.omg.org/spec/DD/20100524/DI': 'DI',
  'http://www.w3.org/2001/XMLSchema-instance': 'XSI',
  'http://camunda.org/schema/1.0/bpmn': 'Camunda 7',
  'http://camunda.org/schema/modeler/1.0': 'Camunda Modeler',
  // The colours a process owner gives elements in Camunda Modeler.
  'http://bpmn.io/schema/bpmn/biocolor/1.0': 'bpmn.io colours',
  'http://www.omg.org/spec/BPMN/non-normative/color/1.0': 'BPMN colours'
});

function isKnownNamespace(uri) {
  return typeof uri === 'string' && Object.prototype.hasOwnProperty.call(KNOWN_NAMESPACES, uri);
}

function is(node, type) {
  return !!node && typeof node.$instanceOf === 'function' && node.$instanceOf(type);
}

function isAny(node, types) {
  return types.some(type => is(node, type));
}

/** The bpmn:Process a node belongs to (itself for a process), or null (definitions level). */
function getProcess(node) {
  for (let current = node; current; current = current.$parent) {
    if (is(current, 'bpmn:Process')) {
      return current;
    }
  }
  return null;
}

/**
 * The engine deploys executable processes only; everything at definitions level (messages,
 * errors, signals) is checked too.
 */
function isInExecutableScope(node) {
  const process = getProcess(node);
  return process ? !!process.isExecutable : true;
}

/**
 * Id of the element a report belongs to: the node or its closest ancestor with an id, skipping
 * event definitions and expressions (a timer is reported on its event, not on its definition).
 */
function ownerId(node) {
  for (let current = node; current; current = current.$parent) {
    if (current.id && !is(current, 'bpmn:EventDefinition') && !is(current, 'bpmn:Expression')) {
      return current.id;
    }
  }
  return node && node.id;
}

function getExtensionElements(node, type) {
  const extensionElements = node && node.extensionElements;
  const values = (extensionElements && extensionElements.values) || [];
  return type ? values.filter(value => is(value, type)) : values;
}

function isNonEmpty(value) {
  return typeof value === 'string' && value.trim().length > 0;
}

function isFeel(value) {
  return typeof value === 'string' && value.trim().startsWith('=');
}

/** A whole value that is one JUEL expression: ${…} or #{…}. */
function isJuelExpression(value) {
  if (typeof value !== 'string') {
    return false;
  }
  const text = value.trim();
  return /^[$#]\{[\s\S]*\}$/.test(text);
}

/** Contains a JUEL expression somewhere (a composite value such as R/${dueDate}/P1D). */
function containsJuel(value) {
  return typeof value === 'string' && /[$#]\{/.test(value);
}

/**
 * FEEL idioms inside a JUEL expression that JUEL refuses or reads differently: a single `=` used
 * as equality (JUEL compares with `==` or `eq`). String literals are skipped.
 */
function feelIdiomInJuel(value) {
  if (typeof value !== 'string') {
    return null;
  }
  const blocks = value.match(/[$#]\{[\s\S]*?\}/g) || [];
  for (const block of blocks) {
    const code = block.slice(2, -1).replace(/'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"/g, '""');
    if (/(^|[^=!<>])=(?!=)/.test(code)) {
      return 'a single "=" (FEEL equality); JUEL compares with "==" or "eq"';
    }
  }
  return null;
}

const ISO_DURATION = /^-?P(?!$)(\d+(?:[.,]\d+)?Y)?(\d+(?:[.,]\d+)?M)?(\d+(?:[.,]\d+)?W)?(\d+(?:[.,]\d+)?D)?(T(?=\d)(\d+(?:[.,]\d+)?H)?(\d+(?:[.,]\d+)?M)?(\d+(?:[.,]\d+)?S)?)?$/;

const ISO_DATE_TIME = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/;

module.exports = {
  KNOWN_NAMESPACES,
  ISO_DURATION,
  ISO_DATE_TIME,
  is,
  isAny,
  isKnownNamespace,
  getProcess,
  isInExecutableScope,
  ownerId,
  getExtensionElements,
  isNonEmpty,
  isFeel,
  isJuelExpression,
  containsJuel,
  feelIdiomInJuel
};
