"""Every component id of the dashboard, in one place."""

INTERVAL = "refresh"
AREA_STORE = "area-store"
OVERVIEW_SHOWN = "overview-shown"
MAP = "area-map"
MAP_BY = "map-by"
MAP_LEGEND = "map-legend"
MAP_SIZE = "map-size"
HEALTH = "health-index"
HEADER_STATUS = "header-status"
CLOCK = "clock"
TICKER = "warning-ticker"
TICKER_HEAD = "ticker-head"
FEEDS = "feed-health"
ROOT = "app-root"
KIOSK_TICK = "kiosk-tick"
KIOSK_STATE = "kiosk-state"
CONN_LOST = "connection-lost"
LANG = "lang-store"

PANEL_KEY = "panel-key"
PANEL_SEARCH = "panel-search"
PANEL_FILTER = "panel-filter"
PANEL_COUNTS = "panel-counts"
PANEL_SECTIONS = "panel-sections"
PANEL_SHOWN = "panel-shown"
DETAIL_KEY = "detail-key"
DETAIL_WHY = "detail-why"
DETAIL_CHILDREN = "detail-children"
WARN_KEY = "warnings-key"
WARN_GROUP = "warnings-group"
WARN_STATES = "warnings-states"
WARN_LEVEL = "warnings-level"
WARN_ACTIVE = "warnings-active"
WARN_PAST = "warnings-past"
WARN_EARLY = "warnings-early"
WARN_COMMENT = "warnings-comment"
WARN_MESSAGE = "warnings-message"
WARN_EXPORT = "warnings-export"
WARN_DOWNLOAD = "warnings-download"
WARN_ACKED = "warnings-acked"
WARN_ACK = "warnings-ack"
INDICATORS_KEY = "indicators-key"
INDICATORS_TABLE = "indicators-table"
CONFIG_STATUS = "config-status"
CONFIG_TABLE = "config-table"
ADMIN_CHANGED = "admin-changed"
ADMIN_MESSAGE = "admin-message"
ADMIN_SCENARIO = "admin-scenario"
ADMIN_AREA = "admin-area"
ADMIN_MINUTES = "admin-minutes"
ADMIN_START = "admin-start"
ADMIN_RUNNING = "admin-running"
ADMIN_PROFILES = "admin-profiles"
ADMIN_CHECK = "admin-catalog-check"
ADMIN_CHECK_RESULT = "admin-catalog-result"
ADMIN_ENGINE_CATALOG = "admin-engine-catalog"
ADMIN_FEEDS = "admin-feeds"
ADMIN_TOKEN_SOURCE = "admin-token-source"
ADMIN_TOKEN_CREATE = "admin-token-create"
ADMIN_TOKENS = "admin-tokens"
ADMIN_AUDIT = "admin-audit"

WARN_TASK_TYPE = "warnings-task-type"
WARN_PRIORITY = "warnings-priority"
WARN_INSTRUCTION = "warnings-instruction"
WARN_DISPATCH = "warnings-dispatch"
WARN_PREVIEW = "warnings-dispatch-preview"
DISPATCH_SUMMARY = "dispatch-summary"
DISPATCH_TABLE = "dispatch-tasks"
DISPATCH_NOTE = "dispatch-note"
DISPATCH_MESSAGE = "dispatch-message"
DISPATCH_CHANGED = "dispatch-changed"
DISPATCH_ASSESS = "dispatch-assessment"
DISPATCH_EXPORT = "dispatch-export"
DISPATCH_DOWNLOAD = "dispatch-download"

RANGE_FROM = "range-from"
RANGE_TO = "range-to"
RANGE_APPLY = "range-apply"
RANGE_BASE = "range-base"
CHART_KEY = "chart-key"
DOWNLOAD = "chart-download"
COMPARE_KEY = "compare-key"
COMPARE_PICK = "compare-pick"
COMPARE_LINES = "compare-lines"
DETAIL_HISTORY = "detail-history"
COMPARE_BARS = "compare-bars"
REPORT_PRINT = "report-print"


def tile(domain: str) -> dict:
    """Pattern-matching id of one domain tile."""
    return {"type": "domain-tile", "domain": domain}


def lang_button(lang: str) -> dict:
    """Pattern-matching id of one button of the language switch."""
    return {"type": "lang-button", "lang": lang}


def admin_button(action: str, **key: str) -> dict:
    """Pattern-matching id of a button in an admin list: stop a scenario, switch a profile, revoke a token."""
    return {"type": f"admin-{action}", **key}


def dispatch_button(action: str) -> dict:
    """Pattern-matching id of a step button on the dispatch page (verify, close, reopen)."""
    return {"type": "dispatch-step", "action": action}


def csv_button(chart: str) -> dict:
    """Pattern-matching id of a chart's CSV export button."""
    return {"type": "csv-export", "chart": chart}
