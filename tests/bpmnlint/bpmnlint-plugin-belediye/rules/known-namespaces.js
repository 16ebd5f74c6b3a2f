'use strict';

const {
  KNOWN_NAMESPACES,
  isKnownNamespace,
  ownerId
} = require('../lib/helpers');

/**
 * Every XML namespace a diagram declares or uses is one of KNOWN_NAMESPACES (BPMN 2.0 model,
 * BPMNDI, DC, DI, XSI, Camunda 7, Camunda Modeler). Anything else — a namespace declaration, an
 * extension element, an attribute — is an error naming the namespace: the Camunda 7 engine ignores
 * it silently, so it is a step that lost its configuration (another engine's leftovers) or a tool's
 * private data nobody reads.
 *
 * Namespaces are recognised by their URI, whatever prefix the file binds them to. The XML reader
 * renames a prefix that collides with one it knows (a foreign namespace bound to "camunda" or to
 * "di" reads as "ns0"), and the element it reads then has no URI; the rule rebuilds the reader's
 * prefix → URI map from the declarations to name the namespace anyway.
 *
 * Not visited by bpmnlint but checked here: the children of an unknown (generic) element. Each
 * foreign namespace is reported once per unknown element (its own, those of nested elements,
 * attributes and declarations); on known elements every foreign declaration and attribute is.
 */

const XML_NS = 'http://www.w3.org/XML/1998/namespace';
const XSI_NS = 'http://www.w3.org/2001/XMLSchema-instance';

const ALLOWED = Object.values(KNOWN_NAMESPACES).join(', ');

function isSimpleType(type) {
  return [ 'String', 'Boolean', 'Integer', 'Real' ].includes(type);
}

function isGeneric(node) {
  return !!(node && node.$descriptor && node.$descriptor.isGeneric);
}

function isDeclaration(name) {
  return name === 'xmlns' || name.startsWith('xmlns:');
}

function prefixOf(name) {
  const colon = name.indexOf(':');
  return colon > 0 ? name.slice(0, colon) : null;
}

/** The attributes of a node as the reader left them: $attrs (known element) or own keys (generic). */
function attributesOf(node) {
  if (isGeneric(node)) {
    return Object.entries(node).filter(([ name, value ]) => !name.startsWith('$') && typeof value !== 'object' && typeof value !== 'function');
  }
  return Object.entries(node.$attrs || {});
}

/** Depth first over known children (as bpmnlint's traverse) and over generic $children. */
function walk(node, visit) {
  if (!node || typeof node !== 'object') {
    return;
  }
  visit(node);
  if (isGeneric(node)) {
    (node.$children || []).forEach(child => walk(child, visit));
    return;
  }
  const properties = (node.$descriptor && node.$descriptor.properties) || [];
  for (const p of properties) {
    if (p.isAttr || p.isReference || isSimpleType(p.type) || !(p.name in node)) {
      continue;
    }
    const value = node[p.name];
    (p.isMany ? value : [ value ]).forEach(child => walk(child, visit));
  }
}

function rootOf(node) {
  let current = node;
  while (current.$parent) {
    current = current.$parent;
  }
  return current;
}

/**
 * The reader's prefix → URI map (aliasToUri) and the prefixes the file declares (declared): the
 * moddle packages and xsi/xml under their own prefixes, then
 * each other declared URI under its declared prefix, or "ns<N>" for a default namespace or a
 * prefix already taken by another URI (as saxen assigns them, in document order).
 */
function readerPrefixes(root) {
  const aliasToUri = new Map();
  const uriToAlias = new Map();
  const declared = new Map();
  const bind = (alias, uri) => {
    aliasToUri.set(alias, uri);
    uriToAlias.set(uri, alias);
  };

  const model = root.$model;
  for (const pkg of (model && typeof model.getPackages === 'function' ? model.getPackages() : [])) {
    bind(pkg.prefix, pkg.uri);
  }
  bind('xsi', XSI_NS);
  bind('xml', XML_NS);

  let anonymous = 0;
  walk(root, node => {
    for (const [ name, uri ] of attributesOf(node)) {
      if (!isDeclaration(name)) {
        continue;
      }
      const prefix = name === 'xmlns' ? null : name.slice('xmlns:'.length);
      if (!uriToAlias.has(uri)) {
        let alias = prefix;
        const taken = alias !== null && (aliasToUri.has(alias) && aliasToUri.get(alias) !== uri || declared.has(alias) && declared.get(alias) !== uri);
        if (alias === null || taken) {
          do {
            alias = `ns${anonymous++}`;
          } while (aliasToUri.has(alias));
        }
        bind(alias, uri);
      }
      if (prefix !== null) {
        declared.set(prefix, uri);
      }
    }
  });

  return { aliasToUri, declared };
}

function describe(uri, name) {
  if (uri) {
    return `namespace ${uri}`;
  }
  const prefix = prefixOf(name);
  return prefix === null ? 'no namespace' : `an undeclared namespace (prefix ${prefix})`;
}

module.exports = function() {

  const stateByRoot = new WeakMap();

  function state(node) {
    const root = rootOf(node);
    if (!stateByRoot.has(root)) {
      stateByRoot.set(root, readerPrefixes(root));
    }
    return stateByRoot.get(root);
  }

  function prefixes(node) {
    return state(node).aliasToUri;
  }

  function declaredPrefixes(node) {
    return state(node).declared;
  }

  /** The reader gave the name's prefix (nsN) in place of the one the file declares. */
  function renamed(node, name) {
    const prefix = prefixOf(name);
    return prefix !== null && /^ns\d+$/.test(prefix) && !declaredPrefixes(node).has(prefix);
  }

  function uriOfName(node, name) {
    const prefix = prefixOf(name);
    return prefix === null ? undefined : prefixes(node).get(prefix);
  }

  /** An unknown element and everything inside it; each foreign namespace once. */
  function checkGeneric(top, reporter) {
    const id = ownerId(top);
    const reported = new Set();
    const report = (uri, name, what) => {
      const key = uri || prefixOf(name) || '';
      if (!reported.has(key)) {
        reported.add(key);
        reporter.report(id, `${what} is of ${describe(uri, name)}, which is not allowed (allowed: ${ALLOWED}): convert it to its Camunda 7 form or drop it`);
      }
    };

    walk(top, node => {
      const uri = (node.$descriptor.ns && node.$descriptor.ns.uri) || uriOfName(node, node.$type);
      if (!isKnownNamespace(uri)) {
        const element = `<${node.$type}>${renamed(node, node.$type) ? ' (a prefix the reader renamed)' : ''}`;
        report(uri, node.$type, node === top ? `Element ${element}` : `Element ${element} inside <${top.$type}>`);
      }
      for (const [ name, value ] of attributesOf(node)) {
        if (isDeclaration(name)) {
          if (!isKnownNamespace(value)) {
            report(value, name, `Declaration ${name} on <${node.$type}>`);
          }
          continue;
        }
        if (prefixOf(name) === null) {
          continue; // an unprefixed attribute is in no namespace: part of its element
        }
        const attributeUri = uriOfName(node, name);
        if (!isKnownNamespace(attributeUri)) {
          report(attributeUri, name, `Attribute ${name}="${value}" on <${node.$type}>`);
        }
      }
    });
  }

  function check(node, reporter) {

    if (isGeneric(node)) {
      checkGeneric(node, reporter);
      // its children are generic too and are not visited by bpmnlint
      return;
    }

    const descriptor = node.$descriptor || {};
    const id = ownerId(node);

    // a typed element or property of a moddle package other than the allowed ones (by the
    // prefix of its name: descriptor.$pkg is the last package that extended the type)
    const model = node.$model;
    const typePackage = model && descriptor.ns && model.getPackage(descriptor.ns.prefix);
    if (typePackage && !isKnownNamespace(typePackage.uri)) {
      reporter.report(id, `Element <${node.$type}> is of namespace ${typePackage.uri}, which is not allowed (allowed: ${ALLOWED})`);
    }
    for (const p of descriptor.properties || []) {
      const contained = !p.isAttr && !p.isReference && !isSimpleType(p.type);
      if (contained || !Object.prototype.hasOwnProperty.call(node, p.name) || !p.ns || !model) {
        continue;
      }
      const pkg = model.getPackage(p.ns.prefix);
      if (pkg && !isKnownNamespace(pkg.uri)) {
        reporter.report(id, `${p.isAttr ? 'Attribute' : 'Property'} ${p.ns.name} on <${node.$type}> is of namespace ${pkg.uri}, which is not allowed (allowed: ${ALLOWED})`);
      }
    }

    // namespace declarations and attributes the model does not know
    for (const [ name, value ] of attributesOf(node)) {
      if (isDeclaration(name)) {
        if (!isKnownNamespace(value)) {
          reporter.report(id, `Namespace ${value} is declared (${name}="${value}" on <${node.$type}>), which is not allowed (allowed: ${ALLOWED}): drop it`);
        }
        continue;
      }
      if (prefixOf(name) === null) {
        continue;
      }
      const uri = uriOfName(node, name);
      if (!isKnownNamespace(uri)) {
        reporter.report(id, `Attribute ${name}="${value}" on <${node.$type}> is of ${describe(uri, name)}, which is not allowed (allowed: ${ALLOWED})`);
      }
    }
  }

  return { check };
};
