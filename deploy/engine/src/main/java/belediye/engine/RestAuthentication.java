package belediye.engine;

import org.operaton.bpm.engine.rest.security.auth.ProcessEngineAuthenticationFilter;
import org.springframework.boot.web.servlet.FilterRegistrationBean;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

/**
 * Operaton's REST API answers anyone by default. Every call must name an engine user: HTTP Basic
 * with the engine's password, or (single sign-on) the identity provider's bearer token
 * ({@link TokenOrPasswordAuthentication}). Without or with wrong credentials it is a 401, and each
 * call runs with that user's authorizations. The flow-coverage endpoint sits behind the same check.
 */
@Configuration
public class RestAuthentication {
  @Bean
  public FilterRegistrationBean<ProcessEngineAuthenticationFilter> restAuthenticationFilter() {
    FilterRegistrationBean<ProcessEngineAuthenticationFilter> registration =
        new FilterRegistrationBean<>(new ProcessEngineAuthenticationFilter());
    registration.setName("engine-rest-authentication");
    registration.addInitParameter("authentication-provider", TokenOrPasswordAuthentication.class.getName());
    registration.addUrlPatterns("/engine-rest/*", "/flow-coverage/*");
    return registration;
  }
}
