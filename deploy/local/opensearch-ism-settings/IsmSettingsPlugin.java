package local.opensearch;

import java.util.List;
import org.opensearch.common.settings.Setting;
import org.opensearch.plugins.Plugin;

/**
 * Registers the index setting that Camunda 8.6 Tasklist writes into its index templates.
 *
 * <p>Tasklist always sets or clears index.plugins.index_state_management.policy_id; a slim
 * OpenSearch without the Index State Management plugin rejects that unknown setting.
 */
public final class IsmSettingsPlugin extends Plugin {
  private static final Setting<String> POLICY_ID =
      Setting.simpleString(
          "index.plugins.index_state_management.policy_id",
          Setting.Property.IndexScope,
          Setting.Property.Dynamic);

  @Override
  public List<Setting<?>> getSettings() {
    return List.of(POLICY_ID);
  }
}
