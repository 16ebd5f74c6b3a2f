'use strict';

const {
  ZEEBE_NS,
  is,
  ownerId,
  zeebePrefixes
} = require('../lib/helpers');

/**
 * Nothing of the Zeebe (Camunda 8) namespace remains: no zeebe:* extension element (task
 * definitions, headers, io mappings, form and assignment definitions, subscriptions, ...), no
 * zeebe:* attribute and no declaration of the namespace. The Camunda 7 engine ignores all of it
 * silently, so a leftover is a step that lost its configuration in the conversion.
 * The namespace is recognised by its URI, whatever prefix the file binds it to.
 */
module.exports = function() {

  function check(node, reporter) {

    const descriptor = node.$descriptor || {};

    if (descriptor.isGeneric && descriptor.ns && descriptor.ns.uri === ZEEBE_NS) {
      reporter.report(ownerId(node), `Zeebe element <${node.$type}> remains: convert it to its Camunda 7 form or drop it`);
      // its children are generic too and are not visited
      return;
    }

    const attrs = node.$attrs || {};
    const prefixes = zeebePrefixes(node);

    for (const [ name, value ] of Object.entries(attrs)) {

      if (name.startsWith('xmlns:') && value === ZEEBE_NS || name === 'xmlns' && value === ZEEBE_NS) {
        reporter.report(ownerId(node), `Zeebe namespace declaration ${name}="${value}" remains: drop it`);
        continue;
      }

      const colon = name.indexOf(':');
      if (colon > 0 && prefixes.has(name.slice(0, colon))) {
        reporter.report(ownerId(node), `Zeebe attribute ${name}="${value}" remains on <${node.$type}>`);
      }
    }
  }

  return { check };
};
