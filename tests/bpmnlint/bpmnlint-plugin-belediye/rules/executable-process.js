'use strict';

const { is } = require('../lib/helpers');

/**
 * A process with flow elements is executable (isExecutable="true"): the engine silently skips a
 * non-executable one, so the deployment succeeds and nothing can be started. (An empty pool of a
 * collaboration, with no flow elements, is left alone.)
 */
module.exports = function() {

  function check(node, reporter) {

    if (!is(node, 'bpmn:Process')) {
      return;
    }

    if (!node.isExecutable && (node.flowElements || []).length) {
      reporter.report(node.id,
        'Process must be executable (isExecutable="true"): the engine does not deploy it otherwise',
        [ 'isExecutable' ]);
    }
  }

  return { check };
};
