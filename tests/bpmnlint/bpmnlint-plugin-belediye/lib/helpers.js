'use strict';

/**
 * Small helpers shared by the rules (no dependencies: the plugin is linked from a folder).
 */

const ZEEBE_NS = 'http://camunda.org/schema/zeebe/1.0';

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

/** The namespace prefixes bound to the Zeebe namespace on the node and its ancestors. */
function zeebePrefixes(node) {
  const prefixes = new Set([ 'zeebe' ]);
  for (let current = node; current; current = current.$parent) {
    const attrs = current.$attrs || {};
    for (const [ name, value ] of Object.entries(attrs)) {
      if (name.startsWith('xmlns:') && value === ZEEBE_NS) {
        prefixes.add(name.slice('xmlns:'.length));
      }
    }
  }
  return prefixes;
}

const ISO_DURATION = /^-?P(?!$)(\d+(?:[.,]\d+)?Y)?(\d+(?:[.,]\d+)?M)?(\d+(?:[.,]\d+)?W)?(\d+(?:[.,]\d+)?D)?(T(?=\d)(\d+(?:[.,]\d+)?H)?(\d+(?:[.,]\d+)?M)?(\d+(?:[.,]\d+)?S)?)?$/;

const ISO_DATE_TIME = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/;

module.exports = {
  ZEEBE_NS,
  ISO_DURATION,
  ISO_DATE_TIME,
  is,
  isAny,
  getProcess,
  isInExecutableScope,
  ownerId,
  getExtensionElements,
  isNonEmpty,
  isFeel,
  isJuelExpression,
  containsJuel,
  feelIdiomInJuel,
  zeebePrefixes
};
