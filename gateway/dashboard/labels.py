"""The dashboard's words: Chinese (the default: the office's operators) and English."""

from __future__ import annotations

LANGS = ("zh-CN", "en")
DEFAULT_LANG = "zh-CN"

# The campaign figures in the order the pages show them (netnet.gateway.v1.Figures fields).
FIGURES: dict[str, tuple[str, str]] = {
    "cases_administrative": ("行政案件", "Administrative cases"),
    "cases_criminal": ("刑事案件", "Criminal cases"),
    "suspects_detained": ("刑事拘留（人）", "Suspects detained"),
    "suspects_arrested": ("逮捕（人）", "Suspects arrested"),
    "illegal_gains_fen": ("违法所得（元）", "Illegal gains (yuan)"),
    "sites_banned_or_closed": ("取缔关闭网站", "Websites banned or closed"),
    "sites_closed": ("关闭网站", "Websites closed"),
    "sites_banned": ("取缔网站", "Websites banned"),
    "apps_notified": ("通报App", "Apps notified"),
    "apps_removed": ("下架App", "Apps removed"),
    "notice_batches": ("通报批次", "Notice batches"),
    "accounts_handled": ("处置账号", "Accounts handled"),
    "groups_handled": ("处置群组", "Groups handled"),
    "groups_closed": ("关闭群组", "Groups closed"),
    "content_direct": ("处置有害信息", "Harmful items dealt with"),
    "content_platform": ("督促平台清理信息", "Items platforms cleaned up when urged"),
    "typical_cases": ("公布典型案例", "Typical cases published"),
}

# The totals the overview puts first, as the campaign's releases lead with them.
HEADLINE = (
    "accounts_handled",
    "content_direct",
    "content_platform",
    "sites_banned_or_closed",
    "apps_notified",
    "apps_removed",
    "cases_criminal",
    "typical_cases",
)

# The charts over time: each sums these figures per day (key -> figures, zh-CN, en).
CHARTS: dict[str, tuple[tuple[str, ...], str, str]] = {
    "accounts": (("accounts_handled",), "处置账号", "Accounts handled"),
    "groups": (("groups_handled",), "处置群组", "Groups handled"),
    "content_direct": (("content_direct",), "处置有害信息", "Harmful items dealt with"),
    "content_platform": (("content_platform",), "督促平台清理信息", "Items platforms cleaned up"),
    "websites": (("sites_banned_or_closed",), "取缔关闭网站", "Websites banned or closed"),
    "apps_notified": (("apps_notified",), "通报App", "Apps notified"),
    "apps_removed": (("apps_removed",), "下架App", "Apps removed"),
    "cases": (
        ("cases_administrative", "cases_criminal"),
        "立案（行政与刑事）",
        "Cases opened (administrative and criminal)",
    ),
}

WORDS: dict[str, tuple[str, str]] = {
    "app": ("“净网”集中行动协调看板", "Net Net campaign dashboard"),
    "other_lang": ("English", "中文"),
    "sign_in": ("登录", "Sign in"),
    "sign_out": ("退出", "Sign out"),
    "token": ("令牌", "Token"),
    "token_help": (
        "粘贴 make run 生成的 .netnet/admin.token，或本部门的令牌。令牌只保存在服务器端，"
        "有效期至令牌到期为止。",
        "Paste .netnet/admin.token (written by make run) or your department's token. It is "
        "kept on the server only, until it expires.",
    ),
    "bad_token": ("令牌无效或已过期。", "That token is not valid, or it has expired."),
    "signed_in_as": ("当前用户", "Signed in as"),
    "overview": ("总览", "Overview"),
    "charts": ("趋势图", "Charts"),
    "deadlines": ("逾期事项", "Overdue"),
    "typical": ("典型案例", "Typical cases"),
    "release": ("通报稿", "Release"),
    "campaigns": ("集中行动", "Campaigns"),
    "no_campaigns": ("尚无可查看的集中行动。", "There is no campaign to show yet."),
    "period": ("行动期间", "Period"),
    "as_of": ("数据截至", "As of"),
    "live": ("实时更新中", "Live"),
    "reconnecting": ("正在重新连接…", "Reconnecting…"),
    "figure": ("指标", "Figure"),
    "total": ("合计", "Total"),
    "by_department": ("各部门工作数据", "Figures by department"),
    "special_actions": ("专项行动", "Special actions"),
    "no_special_actions": ("本行动未设专项行动。", "This campaign has no special actions."),
    "sources": ("数据源状态", "Sources"),
    "source": ("数据源", "Source"),
    "state": ("状态", "State"),
    "latency": ("耗时（毫秒）", "Latency (ms)"),
    "error": ("错误", "Error"),
    "partial": (
        "部分数据源未响应，其指标暂缺（显示为 —）。",
        "Some sources did not answer: their figures are missing (shown as —).",
    ),
    "source_accounts": ("账号", "accounts"),
    "source_sites": ("网站、App 与信息", "websites, apps and content"),
    "source_cases": ("案件", "cases"),
    "state_1": ("正常", "OK"),
    "state_2": ("不可用", "unavailable"),
    "state_3": ("超时", "timed out"),
    "state_4": ("出错", "error"),
    "charts_help": (
        "按日统计：柱为各部门当日数量（堆叠），线为当日合计；账号、网站、App 按当日处置次数计。",
        "Per day: the bars are each department's count that day (stacked), the line is the "
        "day's total; accounts, websites and apps count the actions of the day.",
    ),
    "no_days": ("尚无按日统计的数据。", "Nothing has been counted by day yet."),
    "release_help": (
        "按所选期间（含首尾两日，UTC）由实时数据生成的通报稿；不填则为整个行动期间。",
        "The press release for the period chosen (both days included, UTC), written from live "
        "data; leave the days empty for the campaign's whole period.",
    ),
    "from_day": ("起始日", "From"),
    "to_day": ("截止日", "To"),
    "preview": ("预览", "Preview"),
    "download_markdown": ("下载 Markdown", "Download Markdown"),
    "download_text": ("下载纯文本", "Download plain text"),
    "bad_period": (
        "期间无效：请填写日期（年-月-日），截止日不得早于起始日。",
        "That period is not valid: give days as YYYY-MM-DD, the last not before the first.",
    ),
    "overdue_sites": ("逾期未整改的网站和App", "Websites and apps past their rectification date"),
    "no_overdue_sites": ("没有逾期未整改的网站或App。", "No website or app is past its date."),
    "handovers": ("待签收的线索移交", "Clue hand-overs not yet acknowledged"),
    "no_handovers": (
        "本部门没有待签收的线索移交。",
        "Your department has no hand-over waiting to be acknowledged.",
    ),
    "deadlines_help": (
        "逾期事项按期限排序；线索移交仅显示本部门移出或接收的。",
        "Soonest deadline first; hand-overs are those your department sent or received.",
    ),
    "truncated": ("仅显示前 100 项。", "Only the first 100 of each are shown."),
    "site": ("对象", "Site"),
    "kind": ("类型", "Kind"),
    "site_kind_website": ("网站", "website"),
    "site_kind_app": ("App", "app"),
    "name": ("名称", "Name"),
    "notified_by": ("通报部门", "Notified by"),
    "due": ("整改期限", "Due"),
    "problems": ("存在问题", "Problems"),
    "campaign": ("所属行动", "Campaign"),
    "clue": ("线索", "Clue"),
    "from_department": ("移交部门", "From"),
    "to_department": ("接收部门", "To"),
    "sent": ("移交时间", "Sent"),
    "acknowledge_by": ("签收期限", "Acknowledge by"),
    "overdue": ("已逾期", "overdue"),
    "waiting": ("待签收", "waiting"),
    "no_typical": (
        "本行动尚未公布典型案例。",
        "No typical case of this campaign is published yet.",
    ),
    "published": ("公布时间", "Published"),
    "region": ("地区", "Region"),
    "outcome": ("处理结果", "Outcome"),
    "draft": ("草稿（未公布）", "draft (not published)"),
    "special-actions": ("专项行动", "Special actions"),
    "forbidden": ("无权查看此内容。", "You may not see this."),
    "not_found": ("未找到。", "Not found."),
    "bad_request": ("请求有误。", "The request is not valid."),
    "unavailable": ("服务暂时不可用，请稍后再试。", "The service is unavailable; try again soon."),
    "csrf": ("请求无法验证，请刷新页面后重试。", "The request could not be verified: reload."),
}


def words(lang: str) -> dict[str, str]:
    """Every label in one language (its figures' names under figure_<name>)."""
    i = LANGS.index(lang)
    return {
        **{k: v[i] for k, v in WORDS.items()},
        **{f"figure_{k}": v[i] for k, v in FIGURES.items()},
        **{f"chart_{k}": (zh, en)[i] for k, (_, zh, en) in CHARTS.items()},
    }
