package belediye.engine;

import java.util.List;
import org.operaton.bpm.engine.delegate.TaskListener;
import org.operaton.bpm.engine.impl.bpmn.behavior.UserTaskActivityBehavior;
import org.operaton.bpm.engine.impl.bpmn.parser.AbstractBpmnParseListener;
import org.operaton.bpm.engine.impl.cfg.AbstractProcessEnginePlugin;
import org.operaton.bpm.engine.impl.cfg.ProcessEngineConfigurationImpl;
import org.operaton.bpm.engine.impl.pvm.process.ActivityImpl;
import org.operaton.bpm.engine.impl.pvm.process.ScopeImpl;
import org.operaton.bpm.engine.impl.util.xml.Element;
import org.springframework.beans.factory.annotation.Value;
import org.springframework.stereotype.Component;

/**
 * Tasklist shows a filter's variables as columns of the task list, but only variables the person
 * may read, and the engine lets a task's candidates read the task's own (local) variables, not the
 * process instance's. So this plugin copies the request's list columns (belediye.tasklist-columns)
 * onto every user task when the task is created, as local variables named "tasklist_" + name.
 * The separate names keep a form or step from writing into the copy instead of the process (a
 * variable set on a task goes to the closest scope that has it). The copy is taken at creation:
 * a change of priority recreates the task, and with it the copy.
 */
@Component
public class TasklistColumns extends AbstractProcessEnginePlugin {
  public static final String PREFIX = "tasklist_";
  private final List<String> columns;

  public TasklistColumns(@Value("${belediye.tasklist-columns}") String[] columns) {
    this.columns = List.of(columns);
  }

  @Override
  public void preInit(ProcessEngineConfigurationImpl configuration) {
    TaskListener copy = task -> {
      for (String name : columns) {
        Object value = task.getVariable(name);
        if (value != null) {
          task.setVariableLocal(PREFIX + name, value);
        }
      }
    };
    configuration.getCustomPostBPMNParseListeners().add(new AbstractBpmnParseListener() {
      @Override
      public void parseUserTask(Element element, ScopeImpl scope, ActivityImpl activity) {
        if (activity.getActivityBehavior() instanceof UserTaskActivityBehavior userTask) {
          // Built in: runs even when an operator starts or modifies instances skipping listeners.
          userTask.getTaskDefinition().addBuiltInTaskListener(TaskListener.EVENTNAME_CREATE, copy);
        }
      }
    });
  }
}
