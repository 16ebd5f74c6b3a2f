'use strict';

const { is } = require('../lib/helpers');

/**
 * Every executable process has camunda:historyTimeToLive, in a form the engine parses: a number of
 * days ("180") or days as an ISO-8601 period ("P180D"). Operaton 1.0.3 refuses the deployment
 * without it (ENGINE-12018) and refuses "P6M", "P2Y" or "PT24H" ("Cannot parse historyTimeToLive").
 */
module.exports = function() {

  function check(node, reporter) {

    if (!is(node, 'bpmn:Process') || !node.isExecutable) {
      return;
    }

    const ttl = node.get('camunda:historyTimeToLive');

    if (ttl === undefined || ttl === null || String(ttl).trim() === '') {
      reporter.report(node.id,
        'Executable process must have camunda:historyTimeToLive (e.g. "P180D"): the engine refuses the deployment without it (ENGINE-12018)',
        [ 'historyTimeToLive' ]);
      return;
    }

    if (!/^(\d+|P\d+D)$/.test(String(ttl))) {
      reporter.report(node.id,
        `camunda:historyTimeToLive "${ttl}" is not a number of days ("180") or days as "P180D": the engine cannot parse it`,
        [ 'historyTimeToLive' ]);
    }
  }

  return { check };
};
