'use strict';

const { is } = require('../lib/helpers');

/**
 * The diagram says it is for Camunda 7: modeler:executionPlatform="Camunda Platform" and
 * modeler:executionPlatformVersion 7.x. Camunda Modeler picks the properties panel, the element
 * templates and its lint rules from these attributes: a diagram still marked "Camunda Cloud"
 * opens as a Camunda 8 diagram, and what a process owner edits there is Camunda 8 configuration again.
 */
module.exports = function(config = {}) {

  const expectedVersion = config.version || null;

  function check(node, reporter) {

    if (!is(node, 'bpmn:Definitions')) {
      return;
    }

    const platform = node.get('modeler:executionPlatform');
    const version = node.get('modeler:executionPlatformVersion');

    if (platform !== 'Camunda Platform') {
      reporter.report(node.id,
        `modeler:executionPlatform must be "Camunda Platform" (found ${platform ? '"' + platform + '"' : 'none'}): Camunda Modeler opens the diagram for another engine otherwise`,
        [ 'executionPlatform' ]);
    }

    if (!version || !/^7\.\d+(\.\d+)?$/.test(version)) {
      reporter.report(node.id,
        `modeler:executionPlatformVersion must be a Camunda 7 version such as "7.24.0" (found ${version ? '"' + version + '"' : 'none'})`,
        [ 'executionPlatformVersion' ]);
    } else if (expectedVersion && version !== expectedVersion) {
      reporter.report(node.id,
        `modeler:executionPlatformVersion is "${version}", the project's diagrams say "${expectedVersion}"`,
        [ 'executionPlatformVersion' ]);
    }
  }

  return { check };
};
