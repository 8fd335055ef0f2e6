"""The web application: server-rendered pages for officers, experts, applicants, administrators and the
public, on the same commands as the API (`services.engine.cases.fire`), so both always agree.
`services.web.app.mount(app)` adds them to the FastAPI app."""
