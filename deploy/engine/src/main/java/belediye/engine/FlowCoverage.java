package belediye.engine;

import java.util.List;
import java.util.Map;
import javax.sql.DataSource;
import org.operaton.bpm.engine.delegate.ExecutionListener;
import org.operaton.bpm.engine.impl.bpmn.behavior.EventBasedGatewayActivityBehavior;
import org.operaton.bpm.engine.impl.bpmn.parser.AbstractBpmnParseListener;
import org.operaton.bpm.engine.impl.cfg.AbstractProcessEnginePlugin;
import org.operaton.bpm.engine.impl.cfg.ProcessEngineConfigurationImpl;
import org.operaton.bpm.engine.impl.persistence.entity.ProcessDefinitionEntity;
import org.operaton.bpm.engine.impl.pvm.process.ActivityImpl;
import org.operaton.bpm.engine.impl.pvm.process.ScopeImpl;
import org.operaton.bpm.engine.impl.pvm.process.TransitionImpl;
import org.operaton.bpm.engine.impl.util.xml.Element;
import org.springframework.beans.factory.annotation.Value;
import org.springframework.boot.autoconfigure.condition.ConditionalOnProperty;
import org.springframework.jdbc.core.JdbcTemplate;
import org.springframework.stereotype.Component;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.RequestParam;
import org.springframework.web.bind.annotation.RestController;

/**
 * Process coverage needs the sequence flows each instance took, which Operaton's history does not
 * keep. This plugin adds a "take" listener to every sequence flow of every deployed diagram; the
 * listener writes (process, instance, flow) in the engine's own transaction, so a rolled-back step
 * leaves no trace. Read back by GET /flow-coverage/taken. Off unless belediye.flow-coverage=true
 * (on for the local stack and the tests; a production engine leaves it off).
 */
@Component
@ConditionalOnProperty(name = "belediye.flow-coverage", havingValue = "true")
public class FlowCoverage extends AbstractProcessEnginePlugin {
  private final JdbcTemplate jdbc;

  public FlowCoverage(DataSource dataSource) {
    this.jdbc = new JdbcTemplate(dataSource);
    jdbc.execute(
        "CREATE TABLE IF NOT EXISTS belediye_flow_taken ("
            + " id BIGSERIAL PRIMARY KEY, process_key VARCHAR(255) NOT NULL,"
            + " process_instance_id VARCHAR(64) NOT NULL, flow_id VARCHAR(255) NOT NULL,"
            + " taken_at TIMESTAMPTZ NOT NULL DEFAULT now())");
    jdbc.execute(
        "CREATE INDEX IF NOT EXISTS belediye_flow_taken_process ON belediye_flow_taken (process_key)");
  }

  @Override
  public void preInit(ProcessEngineConfigurationImpl configuration) {
    configuration.getCustomPostBPMNParseListeners().add(new AbstractBpmnParseListener() {
      @Override
      public void parseSequenceFlow(Element element, ScopeImpl scope, TransitionImpl transition) {
        String processKey = ((ProcessDefinitionEntity) transition.getProcessDefinition()).getKey();
        transition.addListener(ExecutionListener.EVENTNAME_TAKE, recorder(processKey, transition.getId()));
      }

      /**
       * The engine makes no transitions out of an event-based gateway: the event that occurs is
       * entered directly. Record its incoming flow when that event has occurred and is left.
       */
      @Override
      public void parseIntermediateCatchEvent(Element element, ScopeImpl scope, ActivityImpl activity) {
        if (activity.getEventScope() instanceof ActivityImpl gateway
            && gateway.getActivityBehavior() instanceof EventBasedGatewayActivityBehavior) {
          String processKey = ((ProcessDefinitionEntity) activity.getProcessDefinition()).getKey();
          for (Element incoming : element.elements("incoming")) {
            activity.addListener(ExecutionListener.EVENTNAME_END, recorder(processKey, incoming.getText().trim()));
          }
        }
      }
    });
  }

  private ExecutionListener recorder(String processKey, String flowId) {
    return execution -> jdbc.update(
        "INSERT INTO belediye_flow_taken (process_key, process_instance_id, flow_id) VALUES (?, ?, ?)",
        processKey, execution.getProcessInstanceId(), flowId);
  }

  @RestController
  @ConditionalOnProperty(name = "belediye.flow-coverage", havingValue = "true")
  public static class TakenFlows {
    private final JdbcTemplate jdbc;

    public TakenFlows(DataSource dataSource) {
      this.jdbc = new JdbcTemplate(dataSource);
    }

    /** Every (instance, flow) taken of one process (by its key, every version). */
    @GetMapping("/flow-coverage/taken")
    public List<Map<String, Object>> taken(@RequestParam("processKey") String processKey) {
      return jdbc.queryForList(
          "SELECT DISTINCT process_instance_id AS \"processInstanceId\", flow_id AS \"flowId\""
              + " FROM belediye_flow_taken WHERE process_key = ?",
          processKey);
    }
  }
}
