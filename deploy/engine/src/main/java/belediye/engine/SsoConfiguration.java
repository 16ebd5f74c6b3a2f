package belediye.engine;

import com.fasterxml.jackson.databind.ObjectMapper;
import jakarta.servlet.ServletException;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import org.operaton.bpm.engine.IdentityService;
import org.operaton.bpm.engine.ProcessEngine;
import org.operaton.bpm.engine.ProcessEngineException;
import org.operaton.bpm.engine.identity.User;
import org.operaton.bpm.engine.rest.security.auth.ProcessEngineAuthenticationFilter;
import org.operaton.bpm.webapp.impl.security.auth.ContainerBasedAuthenticationFilter;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.beans.factory.annotation.Value;
import org.springframework.boot.autoconfigure.security.SecurityProperties;
import org.springframework.boot.web.servlet.FilterRegistrationBean;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.context.annotation.Profile;
import org.springframework.core.io.ClassPathResource;
import org.springframework.core.io.Resource;
import org.springframework.http.HttpHeaders;
import org.springframework.http.HttpStatus;
import org.springframework.http.MediaType;
import org.springframework.http.ResponseEntity;
import org.springframework.security.authentication.AuthenticationProvider;
import org.springframework.security.authentication.BadCredentialsException;
import org.springframework.security.authentication.UsernamePasswordAuthenticationToken;
import org.springframework.security.config.Customizer;
import org.springframework.security.config.annotation.web.builders.HttpSecurity;
import org.springframework.security.core.Authentication;
import org.springframework.security.core.AuthenticationException;
import org.springframework.security.core.GrantedAuthority;
import org.springframework.security.core.authority.SimpleGrantedAuthority;
import org.springframework.security.oauth2.client.oidc.userinfo.OidcUserRequest;
import org.springframework.security.oauth2.client.oidc.userinfo.OidcUserService;
import org.springframework.security.oauth2.client.oidc.web.logout.OidcClientInitiatedLogoutSuccessHandler;
import org.springframework.security.oauth2.client.registration.ClientRegistrationRepository;
import org.springframework.security.oauth2.client.userinfo.OAuth2UserService;
import org.springframework.security.oauth2.core.OAuth2AuthenticationException;
import org.springframework.security.oauth2.core.OAuth2Error;
import org.springframework.security.oauth2.core.oidc.user.DefaultOidcUser;
import org.springframework.security.oauth2.core.DelegatingOAuth2TokenValidator;
import org.springframework.security.oauth2.core.oidc.user.OidcUser;
import org.springframework.security.oauth2.jwt.JwtClaimNames;
import org.springframework.security.oauth2.jwt.JwtClaimValidator;
import org.springframework.security.oauth2.jwt.JwtDecoder;
import org.springframework.security.oauth2.jwt.JwtDecoders;
import org.springframework.security.oauth2.jwt.JwtValidators;
import org.springframework.security.oauth2.jwt.NimbusJwtDecoder;
import org.springframework.security.web.SecurityFilterChain;
import org.springframework.security.web.csrf.CsrfToken;
import org.springframework.security.web.authentication.HttpStatusEntryPoint;
import org.springframework.security.web.AuthenticationEntryPoint;
import org.springframework.security.web.savedrequest.HttpSessionRequestCache;
import org.springframework.security.web.session.HttpSessionEventPublisher;
import org.springframework.security.web.servlet.util.matcher.PathPatternRequestMatcher;
import org.springframework.security.web.util.matcher.AnyRequestMatcher;
import org.springframework.security.web.util.matcher.RequestMatcher;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.RestController;
import org.springframework.web.util.HtmlUtils;

/**
 * Single sign-on to Tasklist, Cockpit, Admin and Welcome through the municipality's OpenID Connect
 * provider (locally Keycloak's realm `belediye`, client `operaton-webapps`). Only with the Spring
 * profile {@code oidc} (application-oidc.yaml); without it Spring Security is not configured at all
 * and the web apps keep their own password form.
 *
 * <ul>
 *   <li>Spring Security's OAuth2 login guards {@code /operaton/app/**} and {@code /operaton/api/**}:
 *       a browser without a session goes to the provider (keeping the address's fragment), an
 *       XHR gets 401.
 *   <li>Operaton's {@link ContainerBasedAuthenticationFilter} (after Spring Security's filter) then
 *       makes the engine's web-app authentication of the signed-in principal, by
 *       {@link SsoAuthenticationProvider}: user id from the {@code preferred_username} claim, groups
 *       from the {@code groups} claim, so candidate groups and authorizations follow the directory.
 *   <li>The engine must know the user (Operaton looks the user up before it accepts an
 *       authentication): the first sign-in creates the engine user with the token's names and
 *       e-mail and a random password nobody knows (so no password sign-in for staff).
 *   <li>Break-glass: members of the engine group {@code belediye.sso.break-glass-group} (default
 *       {@code operaton-admin}, i.e. {@code demo}) sign in with their engine password on Spring
 *       Security's page {@code /login}, for when the provider is down. Their groups are the
 *       engine's own memberships. Operaton's own password endpoint is closed.
 *   <li>The REST API ({@code /engine-rest}, {@link RestAuthentication}) takes the provider's access
 *       tokens besides HTTP Basic: staff scripts and tests act as themselves without an engine
 *       password ({@code belediye.sso.rest-audience} names the audience a token must carry).
 *   <li>Sign-out: the header's link posts to {@code /logout} (script {@code belediye/sso.js}),
 *       which ends the session (engine and Spring) and sends the browser to the provider's
 *       end_session_endpoint with {@code id_token_hint} and {@code post_logout_redirect_uri}.
 *   <li>Back-channel logout: a sign-out elsewhere (our staff pages, Keycloak's account page, an
 *       administrator) reaches {@code /logout/connect/back-channel/oidc} as a signed logout
 *       token, and the session opened in that provider session ends.
 * </ul>
 */
@Configuration
@Profile("oidc")
public class SsoConfiguration {

  private static final Logger log = LoggerFactory.getLogger(SsoConfiguration.class);
  private static final SecureRandom RANDOM = new SecureRandom();
  private static final ObjectMapper JSON = new ObjectMapper();

  /** The registration in application-oidc.yaml; the provider's redirect URI ends with it. */
  static final String REGISTRATION = "oidc";

  /** Authorities carrying an engine group (from the groups claim); SsoAuthenticationProvider reads them. */
  static final String GROUP_AUTHORITY_PREFIX = "ENGINE_GROUP_";

  private static RequestMatcher path(String pattern) {
    return PathPatternRequestMatcher.withDefaults().matcher(pattern);
  }

  @Bean
  public SecurityFilterChain webappSingleSignOn(
      HttpSecurity http,
      ClientRegistrationRepository registrations,
      OAuth2UserService<OidcUserRequest, OidcUser> engineUsers,
      ProcessEngine engine,
      @Value("${belediye.sso.break-glass-group:operaton-admin}") String breakGlassGroup,
      @Value("${belediye.sso.post-logout-path:/operaton/app/tasklist/default/}") String postLogoutPath)
      throws Exception {
    OidcClientInitiatedLogoutSuccessHandler logout = new LogoutToProvider(registrations);
    logout.setPostLogoutRedirectUri("{baseUrl}" + postLogoutPath);
    logout.setDefaultTargetUrl("/login?logout"); // a break-glass session has no provider to leave

    // After the sign-in, back to the web app page asked for: never to one of its XHRs.
    HttpSessionRequestCache pages = new HttpSessionRequestCache();
    pages.setRequestMatcher(path("/operaton/app/**"));

    http.requestCache(cache -> cache.requestCache(pages))
        .authorizeHttpRequests(requests -> requests
            // Operaton's password sign-in would give a second, password-based identity: closed.
            .requestMatchers(path("/operaton/api/admin/auth/user/*/login/*")).denyAll()
            .requestMatchers(path("/operaton/app/**"), path("/operaton/api/**")).authenticated()
            // /engine-rest (HTTP Basic in RestAuthentication), /, /login, probes: as before.
            .anyRequest().permitAll())
        // Our Turkish /login replaces Spring's generated page; a failed provider sign-in lands there
        // with its own message.
        .oauth2Login(login -> login
            .loginPage("/login")
            .failureUrl("/login?kurumsal-hata")
            .userInfoEndpoint(info -> info.oidcUserService(engineUsers)))
        // The break-glass form is our Turkish page (BreakGlassPage), not Spring's generated one.
        .formLogin(form -> form.loginPage("/login").permitAll().defaultSuccessUrl("/operaton/app/", false))
        .authenticationProvider(new BreakGlass(engine.getIdentityService(), breakGlassGroup))
        .logout(out -> out.logoutSuccessHandler(logout))
        // The provider's back-channel logout (POST /logout/connect/back-channel/oidc with a
        // signed logout token): a sign-out on our staff pages or at Keycloak ends this session
        // too. The session registry is in memory, per node (docs/identity.md says so).
        .oidcLogout(oidc -> oidc.backChannel(Customizer.withDefaults()))
        .exceptionHandling(errors -> errors
            .defaultAuthenticationEntryPointFor(new HttpStatusEntryPoint(HttpStatus.UNAUTHORIZED), path("/operaton/api/**"))
            .defaultAuthenticationEntryPointFor(new SignInKeepingTheFragment(), AnyRequestMatcher.INSTANCE))
        // Operaton's CsrfPreventionFilter guards /operaton/api, REST is Basic without a session.
        // /logout needs no token: the session cookie is SameSite=Lax, so no other site can post
        // it. Spring Security's token stays on the break-glass form (/login).
        .csrf(csrf -> csrf.ignoringRequestMatchers(
            path("/operaton/**"), path("/engine-rest/**"), path("/flow-coverage/**"), path("/logout"),
            path("/logout/connect/back-channel/*")));
    return http.build();
  }

  /**
   * The REST API accepts the provider's access tokens (TokenOrPasswordAuthentication): signed by
   * its keys (discovery at start), of its issuer, unexpired, for the audience named here.
   */
  @Bean
  public JwtDecoder restTokens(
      @Value("${spring.security.oauth2.client.provider.oidc.issuer-uri}") String issuer,
      @Value("${belediye.sso.rest-audience:belediye-hizmet-takip}") String audience,
      @Value("${belediye.sso.username-claim:preferred_username}") String usernameClaim,
      @Value("${belediye.sso.groups-claim:groups}") String groupsClaim) {
    NimbusJwtDecoder decoder = JwtDecoders.fromIssuerLocation(issuer);
    decoder.setJwtValidator(new DelegatingOAuth2TokenValidator<>(
        JwtValidators.createDefaultWithIssuer(issuer),
        new JwtClaimValidator<List<String>>(JwtClaimNames.AUD, aud -> aud != null && aud.contains(audience))));
    TokenOrPasswordAuthentication.acceptTokens(
        new TokenOrPasswordAuthentication.Tokens(decoder, usernameClaim, groupsClaim));
    return decoder;
  }

  /** Sessions that end (logout, timeout) leave the back-channel logout's session registry. */
  @Bean
  public HttpSessionEventPublisher sessionEvents() {
    return new HttpSessionEventPublisher();
  }

  /** Operaton's container-based authentication, right after Spring Security's filter chain. */
  @Bean
  public FilterRegistrationBean<ContainerBasedAuthenticationFilter> webappAuthenticationFromToken() {
    FilterRegistrationBean<ContainerBasedAuthenticationFilter> registration =
        new FilterRegistrationBean<>(new ContainerBasedAuthenticationFilter());
    registration.setName("webapp-authentication-from-token");
    registration.addInitParameter(
        ProcessEngineAuthenticationFilter.AUTHENTICATION_PROVIDER_PARAM, SsoAuthenticationProvider.class.getName());
    registration.addUrlPatterns("/operaton/app/*", "/operaton/api/*");
    registration.setOrder(SecurityProperties.DEFAULT_FILTER_ORDER + 1);
    return registration;
  }

  /** The provider's user, named by the username claim, with the groups claim as engine-group authorities. */
  @Bean
  public OAuth2UserService<OidcUserRequest, OidcUser> engineUsers(
      ProcessEngine engine,
      @Value("${belediye.sso.username-claim:preferred_username}") String usernameClaim,
      @Value("${belediye.sso.groups-claim:groups}") String groupsClaim) {
    OidcUserService standard = new OidcUserService();
    IdentityService identity = engine.getIdentityService();
    return request -> {
      OidcUser signedIn = standard.loadUser(request);
      String userId = signedIn.getClaimAsString(usernameClaim);
      if (userId == null || userId.isBlank()) {
        throw refused("the token has no " + usernameClaim + " claim");
      }
      List<String> groups = Objects.requireNonNullElse(signedIn.getClaimAsStringList(groupsClaim), List.of());
      Set<GrantedAuthority> authorities = new LinkedHashSet<>(signedIn.getAuthorities());
      groups.forEach(group -> authorities.add(new SimpleGrantedAuthority(GROUP_AUTHORITY_PREFIX + group)));
      provision(identity, userId, signedIn);
      log.info("single sign-on: {} with engine groups {}", userId, groups);
      return new DefaultOidcUser(authorities, signedIn.getIdToken(), signedIn.getUserInfo(), usernameClaim);
    };
  }

  /** The engine user of a first sign-in, or its names and e-mail brought up to date. */
  static void provision(IdentityService identity, String userId, OidcUser signedIn) {
    try {
      User user = identity.createUserQuery().userId(userId).singleResult();
      boolean created = user == null;
      if (created) {
        user = identity.newUser(userId);
        // No password anyone knows. Not none: Operaton 1.0.3 fails with a NullPointerException
        // (HTTP 500) when HTTP Basic names a user without a password, instead of refusing (401).
        user.setPassword(unguessable());
      }
      String first = Objects.requireNonNullElse(signedIn.getGivenName(), userId);
      String last = Objects.requireNonNullElse(signedIn.getFamilyName(), "");
      String email = signedIn.getEmail();
      if (created || !Objects.equals(first, user.getFirstName()) || !Objects.equals(last, user.getLastName())
          || !Objects.equals(email, user.getEmail())) {
        user.setFirstName(first);
        user.setLastName(last);
        user.setEmail(email);
        identity.saveUser(user);
      }
    } catch (ProcessEngineException e) {
      // e.g. a user name the engine's id pattern refuses (general-resource-whitelist-pattern)
      throw refused("the engine does not accept the user " + userId + ": " + e.getMessage());
    }
  }

  private static String unguessable() {
    byte[] secret = new byte[32];
    RANDOM.nextBytes(secret);
    return Base64.getUrlEncoder().withoutPadding().encodeToString(secret);
  }

  private static OAuth2AuthenticationException refused(String why) {
    log.warn("single sign-on refused: {}", why);
    return new OAuth2AuthenticationException(new OAuth2Error("engine_user_refused", why, null), why);
  }

  /**
   * RP-initiated logout: the provider's end_session_endpoint with id_token_hint and
   * post_logout_redirect_uri. To the web apps' script (Accept: application/json) as JSON
   * {"location": ...}: Operaton's Content-Security-Policy ({@code form-action 'self'}) blocks a
   * form whose answer redirects to another origin, but not the script's own navigation.
   */
  static final class LogoutToProvider extends OidcClientInitiatedLogoutSuccessHandler {
    LogoutToProvider(ClientRegistrationRepository registrations) {
      super(registrations);
    }

    @Override
    public void onLogoutSuccess(HttpServletRequest request, HttpServletResponse response, Authentication signedOut)
        throws IOException, ServletException {
      String accept = Objects.requireNonNullElse(request.getHeader(HttpHeaders.ACCEPT), "");
      if (!accept.contains(MediaType.APPLICATION_JSON_VALUE)) {
        super.onLogoutSuccess(request, response, signedOut);
        return;
      }
      String location = determineTargetUrl(request, response, signedOut);
      response.setStatus(HttpServletResponse.SC_OK);
      response.setContentType(MediaType.APPLICATION_JSON_VALUE);
      response.setHeader(HttpHeaders.CACHE_CONTROL, "no-store");
      response.getWriter().write(JSON.writeValueAsString(Map.of("location", location)));
    }
  }

  /**
   * A browser without a session goes to the provider through this page rather than a bare
   * redirect: the web apps' addresses carry the view in the fragment
   * ({@code …/tasklist/default/#/?task=…}, the links in our mails), which no server sees and
   * which the provider's sign-in form drops. The page keeps it in the tab's sessionStorage;
   * belediye/sso.js puts it back once the web app has opened.
   */
  static final class SignInKeepingTheFragment implements AuthenticationEntryPoint {
    private static final String PAGE = """
        <!doctype html>
        <html lang="tr"><head><meta charset="utf-8"><title>Oturum açılıyor…</title></head>
        <body><script>
        if (location.hash.length > 2) sessionStorage.setItem('belediye.sso.fragment', location.hash);
        location.replace('/oauth2/authorization/%s');
        </script><noscript><a href="/oauth2/authorization/%s">Oturum açın</a></noscript></body></html>
        """.formatted(REGISTRATION, REGISTRATION);

    @Override
    public void commence(HttpServletRequest request, HttpServletResponse response, AuthenticationException why)
        throws IOException {
      response.setStatus(HttpServletResponse.SC_UNAUTHORIZED);
      response.setContentType(MediaType.TEXT_HTML_VALUE);
      response.setCharacterEncoding("UTF-8");
      response.setHeader(HttpHeaders.CACHE_CONTROL, "no-store");
      response.getWriter().write(PAGE);
    }
  }

  /** The break-glass sign-in on /login: the engine's password check, for one group only. */
  static final class BreakGlass implements AuthenticationProvider {
    private final IdentityService identity;
    private final String group;

    BreakGlass(IdentityService identity, String group) {
      this.identity = identity;
      this.group = group;
    }

    @Override
    public Authentication authenticate(Authentication attempt) {
      String userId = attempt.getName();
      String password = String.valueOf(attempt.getCredentials());
      // checkPassword counts failed attempts and locks the user like Operaton's own form does.
      boolean valid;
      try {
        valid = identity.checkPassword(userId, password);
      } catch (RuntimeException e) { // a user without a password (see provision) fails, not refuses
        valid = false;
      }
      boolean allowed = identity.createGroupQuery().groupMember(userId).groupId(group).count() > 0;
      if (!valid || !allowed) {
        throw new BadCredentialsException("not a break-glass administrator");
      }
      log.warn("break-glass sign-in of {} (password, without the identity provider)", userId);
      return UsernamePasswordAuthenticationToken.authenticated(userId, null, new ArrayList<>());
    }

    @Override
    public boolean supports(Class<?> type) {
      return UsernamePasswordAuthenticationToken.class.isAssignableFrom(type);
    }
  }

  /** The break-glass sign-in page, in Turkish, with Spring Security's CSRF token. */
  @RestController
  @Profile("oidc")
  static class BreakGlassPage {
    private static final String PAGE = """
        <!doctype html>
        <html lang="tr"><head><meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>Yedek yönetici girişi — Operaton</title>
        <style>
        body{font-family:system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem;color:#1b1b1b}
        label{display:block;margin-top:1rem;font-weight:600}
        input{width:100%%;padding:.5rem;font-size:1rem;box-sizing:border-box}
        button{margin-top:1.5rem;padding:.6rem 1.2rem;font-size:1rem}
        .notice{border-left:4px solid #b00020;padding:.5rem 1rem;background:#fdecee}
        .info{border-left:4px solid #1565c0;padding:.5rem 1rem;background:#e8f0fe}
        </style></head>
        <body><main>
        <h1>Yedek yönetici girişi</h1>
        <p>Bu sayfa yalnızca kimlik sağlayıcıya (kurumsal giriş) ulaşılamadığında motor yöneticileri
        içindir. Personel <a href="/oauth2/authorization/oidc">kurumsal girişle</a> oturum açar.</p>
        %s
        <form method="post" action="/login">
        <input type="hidden" name="%s" value="%s">
        <label for="username">Kullanıcı adı</label>
        <input id="username" name="username" autocomplete="username" required autofocus>
        <label for="password">Parola</label>
        <input id="password" name="password" type="password" autocomplete="current-password" required>
        <button type="submit">Giriş yap</button>
        </form>
        </main></body></html>
        """;

    @GetMapping(value = "/login", produces = "text/html;charset=UTF-8")
    ResponseEntity<String> page(HttpServletRequest request) {
      String notice = "";
      if (request.getParameter("kurumsal-hata") != null) {
        notice = "<p class=\"notice\" role=\"alert\">Kurumsal giriş tamamlanamadı. "
            + "<a href=\"/oauth2/authorization/oidc\">Yeniden deneyin</a>; sorun sürerse sistem yöneticisine bildirin.</p>";
      } else if (request.getParameter("error") != null) {
        notice = "<p class=\"notice\" role=\"alert\">Giriş yapılamadı: kullanıcı adı ya da parola yanlış, "
            + "ya da bu kullanıcı motor yöneticisi değil.</p>";
      } else if (request.getParameter("logout") != null) {
        notice = "<p class=\"info\" role=\"status\">Oturumunuz kapatıldı.</p>";
      }
      CsrfToken csrf = (CsrfToken) request.getAttribute(CsrfToken.class.getName());
      String html = PAGE.formatted(
          notice, HtmlUtils.htmlEscape(csrf.getParameterName()), HtmlUtils.htmlEscape(csrf.getToken()));
      return ResponseEntity.ok().header(HttpHeaders.CACHE_CONTROL, "no-store").body(html);
    }
  }

  /**
   * The web apps' config.js loads {@code ../belediye/sso.js}; with single sign-on it is this
   * script (the fragment back after the sign-in; the header's sign-out posts to /logout),
   * otherwise the empty module of the same name.
   */
  @RestController
  @Profile("oidc")
  static class SsoLogoutScript {
    private final Resource script = new ClassPathResource("belediye/sso.js");

    @GetMapping("/operaton/app/belediye/sso.js")
    ResponseEntity<Resource> script() {
      return ResponseEntity.ok().contentType(MediaType.valueOf("text/javascript")).body(script);
    }
  }
}
