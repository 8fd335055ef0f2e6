"""The one message catalogue: every label and every reason, in Chinese first and English.

Keys are `kind.name` (`state.publicity`, `trigger.approve`, `task.technical_review`,
`reason.commitment_missing`, ...). Templates use `str.format` fields. A reason code said in more than
one way has variants `reason.<code>.<variant>` (`reason.missing.receipt`): the code stays `<code>`.
Read them with `label` (a name), `text` (a template filled in), `reason` (a refusal) and `joined`
(a list said in each language). tests/unit/test_catalogue.py keeps Chinese out of the code.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from dataclasses import field as dc_field
from typing import Any, NamedTuple

CATALOGUE: dict[str, tuple[str, str]] = {
    # --- procedures ---
    "procedure.project_registration": ("项目/场景登记", "Project / scenario registration"),
    "procedure.methodology_filing": ("方法学备案", "Methodology filing"),
    "state.public_comment": ("公开征求意见", "Public comment"),
    "state.comment_disposition": ("意见处理", "Comment disposition"),
    "state.filed": ("已备案", "Filed"),
    "procedure.issuance": ("减排量签发", "Issuance"),
    # ·· scenario issuance on the users' behalf, their accounts, points and corrections (issue 17)
    "procedure.scenario_issuance": ("场景减排量签发", "Scenario issuance"),
    "state.commissioning": ("委托核证机构", "Commissioning a verifier"),
    "trigger.commission_verifier": ("委托核证机构", "Commission a verifier"),
    "task.commission_verifier": ("委托核证机构", "Commission a verifier"),
    "trigger.verify_report": ("出具核证意见", "Verify the report"),
    "title.scenario_issuance": ("{scenario} {period} 场景减排量", "{scenario}: scenario reductions of {period}"),
    "noun.scenario_account": ("个人减排账户", "Personal reduction account"),
    "noun.scenario_period": ("签发期", "Issuance period"),
    "noun.evaluation": ("跟踪评估", "Evaluation"),
    "reason.scenario_file_changed": (
        "场景数据文件（{what}）与记录的SHA-256不符，拒绝使用",
        "The scenario data file ({what}) does not match its recorded SHA-256 and is refused",
    ),
    "reason.scenario_not_scenario": ("该项目不是减排场景", "This project is not a scenario"),
    "reason.scenario_period_invalid": (
        "签发期“{period}”格式不正确（{kind}）", "Period “{period}” is malformed ({kind})"),
    "reason.scenario_period_not_issued": ("签发期 {period} 尚未签发", "Period {period} has not been issued"),
    "reason.scenario_user_not_in_period": (
        "用户 {user} 在签发期 {period} 没有分配记录", "User {user} has no allocation in period {period}"),
    "reason.scenario_correction_unknown_user": (
        "用户 {user} 在该签发期没有减排量", "User {user} has no reductions in this period"),
    "reason.scenario_correction_over_reduction": (
        "用户 {user} 的冲正量 {asked} 克超过其本期减排量 {reduction} 克",
        "User {user}: {asked} g to reverse exceeds their {reduction} g of the period",
    ),
    "reason.scenario_correction_spent": (
        "用户 {user} 的冲正量 {asked} 克超过其尚存的 {left} 克（已分配及结转）",
        "User {user}: {asked} g to reverse exceeds the {left} g left (allocated and carried)",
    ),
    "reason.scenario_not_approved": (
        "案件 #{case} 尚未批准签发，不能铸造和分配",
        "Case #{case} is not approved for issuance: nothing to mint or allocate",
    ),
    # an approved period's minting and allocation, handed to the dispatcher (services/queries/scenario_issuance.py)
    "minting.queued": ("已批准，正在排队铸造并按用户分配", "Approved: minting and allocation per user queued"),
    "minting.retrying": ("铸造与分配上次未完成，将自动重试",
                         "Minting and allocation did not finish; retried automatically"),
    "minting.failed": ("铸造与分配失败，已转入待处理队列，请管理员处理",
                       "Minting and allocation failed and were set aside for an administrator to retry"),
    "minting.done": ("已铸造并按用户分配", "Minted and allocated per user"),
    # the verification report's figures a scenario issuance case carries (issuance.report_figures)
    "figure.participants": ("参与用户数", "Participants"),
    "figure.capped_user_days": ("超上限封顶的用户日数", "User-days capped at the plausibility cap"),
    "figure.anomalies": ("异常日数（待审核）", "Anomalous days (for review)"),
    "figure.batches.count": ("数据批次数", "Data batches"),
    "figure.batches.rows_total": ("批次记录总数", "Rows sent in the batches"),
    "figure.batches.rows_accepted": ("接收记录数", "Rows accepted at intake"),
    "figure.batches.rows_rejected": ("拒收记录数", "Rows refused at intake"),
    "figure.batches.late": ("迟报记录数", "Late rows"),
    "figure.records.in_period": ("本期记录数", "Records in the period"),
    "figure.records.counted": ("计入记录数", "Records counted"),
    "figure.records.late": ("计入的迟报记录数", "Late records counted"),
    "figure.records.excluded": ("剔除记录数", "Records excluded"),
    "figure.exclusions.back_dated": ("剔除：补报超过截止日", "Excluded: back-dated past the cut-off"),
    "figure.exclusions.no_consent": ("剔除：活动日无用户授权", "Excluded: no consent on the activity date"),
    "figure.exclusions.no_parameter": ("剔除：活动日无有效关键参数", "Excluded: no key parameter in force"),
    "figure.exclusions.formula_undefined": ("剔除：公式无定义", "Excluded: formula undefined"),
    "figure.totals.reduction_g": ("本期减排量", "Reductions of the period"),  # value in grams (the key says so)
    "outbox_kind.issue_to_users": ("场景减排量铸造与按用户分配", "Mint the scenario block and allocate it per user"),
    "event.scenario_issued": ("已铸造并按用户分配", "Minted and allocated per user"),
    "reason.scenario_units_gone": (
        "场景运营主体账户仅持有 {held} 吨本期减排量，冲正需注销 {asked} 吨（鄂尔多斯办法第十一条）",
        "The enterprise's account holds only {held} t of this period, the correction cancels {asked} t "
        "(Ordos art. 11)",
    ),
    "reason.scenario_evaluation_unknown": (
        "未找到该场景的跟踪评估 #{evaluation}", "No evaluation #{evaluation} of this scenario"),
    "reason.scenario_evaluation_no_anomaly": (
        "跟踪评估 #{evaluation} 没有数据异常的发现（鄂尔多斯办法第十一条）",
        "Evaluation #{evaluation} has no data-anomaly finding (Ordos art. 11)",
    ),
    "reason.lookup_token_invalid": ("查询码无效或已被替换", "The lookup token is invalid or was replaced"),
    "reason.points_not_transferable": (
        "本辖区个人碳积分不可在个人之间转让（山东编制说明二（二））",
        "Carbon points may not move between individuals here (Shandong explanatory notes, II(2))",
    ),
    "reason.points_not_enough": ("碳积分余额 {balance} 不足 {asked}", "Only {balance} points held, {asked} asked"),
    "reason.points_owed": (
        "数据异常核减后尚欠 {owed} 积分{basis_zh}，从今后各期新获积分中抵扣，抵扣完毕前不能转出积分",
        "{owed} points are owed after a correction of anomalous data{basis_en}; they are offset against your "
        "next awards, and no points can be sent until they are",
    ),
    "reason.points_same_user": ("不能向自己转让碳积分", "Points cannot be transferred to oneself"),
    "reason.points_unknown_user": (
        "接收人 {user} 不是本场景的用户", "The recipient {user} is not a user of this scenario"),
    "text.scenario_correction": (
        "依据跟踪评估 #{evaluation} 的数据异常发现冲正 {period} 场景减排量{basis_zh}：{reason}",
        "Correction of the {period} scenario reductions on evaluation #{evaluation}'s data-anomaly finding"
        "{basis_en}: {reason}",
    ),
    "procedure.rectification": ("暂停与整改", "Suspension and rectification"),
    "procedure.report": ("举报", "Report"),
    "procedure.revenue_audit": ("收益使用审计", "Revenue-use audit"),
    "procedure.operation_report": ("二类项目运行情况报告", "Class-2 operation report"),
    "state.due": ("待提交运行情况报告", "Report due"),
    "state.published": ("已公开", "Published"),
    "trigger.file_report": ("提交运行情况报告", "File the operation report"),
    "trigger.report_deadline": ("运行情况报告期限届满", "Report deadline passed"),
    "task.operation_report": ("提交运行情况报告（含收益管理方案）", "Operation report (with the revenue plan)"),
    "title.operation_report": ("{project} {year}年度运行情况报告", "{project}: operation report of {year}"),
    "reason.operation_report_not_here": (
        "{jurisdiction_zh}未规定二类项目运行情况报告", "{jurisdiction_en} has no class-2 operation reports",
    ),
    "reason.operation_report_class_2_only": (
        "仅已公开的二类项目报告运行情况", "Only disclosed class-2 projects report how they run",
    ),
    "reason.operation_report_year": (
        "报告年度 {year} 与应报告的年度 {due_year} 不符", "The report is of {year}; the year due is {due_year}",
    ),
    "reason.returned_over_revenue": (
        "返还用户金额 {returned} 元超过收益 {revenue} 元{basis_zh}",
        "{returned} CNY returned to users exceeds the revenue of {revenue} CNY{basis_en}",
    ),
    "field.revenue_management_plan": ("碳普惠收益管理方案", "Revenue-management plan"),
    "field.operation_summary": ("项目运行情况", "How the project ran"),
    "field.participants": ("参与用户数", "Participants"),
    "field.reductions_tco2e": ("减排量（tCO2e，仅公开，不签发）", "Reductions (tCO2e, disclosed, not issued)"),
    "field.revenue_cny": ("收益（元）", "Revenue (CNY)"),
    "profile_section.operation_report": ("二类项目运行情况报告", "Class-2 operation reports"),
    "profile_rule.no_double_claiming": ("签发后不得重复申报（声明与冻结）", "No double claiming after issuance"),
    "procedure.parameter_review": ("关键参数核实更新", "Key parameter review"),
    "state.confirmed": ("已核实仍为最新", "Confirmed current"),
    "state.updated": ("已更新", "Updated"),
    "trigger.confirm_parameter": ("核实来源仍为最新", "Confirm the source is current"),
    "trigger.update_parameter": ("更新参数", "Update the parameter"),
    "task.parameter_review": (
        "核实或更新关键参数（嘉兴办法第十一条）", "Confirm or update a key parameter (Jiaxing art. 11)",
    ),
    "title.parameter_review": (
        "{code} {version} 关键参数“{parameter}”核实更新", "{code} {version}: review of “{parameter}”",
    ),
    "reason.parameter_source_future": ("来源日期 {date} 晚于今日", "The source date {date} is after today"),
    "reason.parameter_source_still_stale": (
        "来源日期 {date} 已超过 {days} 天，不是更新；如仍为最新请核实确认",
        "A source of {date} is older than {days} days: no update — confirm it if it is still the latest",
    ),
    "field.checked_source": ("核实的来源", "Source checked"),
    "state.below_threshold": ("返还比例不足90%", "Below 90% returned"),
    "state.missed": ("逾期未提交", "Missed"),
    "trigger.file_audit": ("提交审计报告", "File the audit report"),
    "trigger.audit_deadline": ("审计报告期限届满", "Audit deadline passed"),
    "task.revenue_report": ("提交收益使用审计报告", "Revenue-use audit report"),
    "state.opened": ("已立案", "Opened"),
    "state.rectifying": ("整改中（项目暂停）", "Rectifying (project suspended)"),
    "state.report_review": ("整改报告审核", "Report review"),
    "state.resumed": ("整改合格，已恢复", "Resumed"),
    "state.revoked": ("已撤销（退出）", "Revoked"),
    "state.suspended": ("逾期未整改，保持暂停", "Stays suspended"),
    "state.received": ("已受理", "Received"),
    "state.investigating": ("调查中", "Investigating"),
    "state.substantiated": ("举报属实", "Substantiated"),
    "state.unsubstantiated": ("举报不属实", "Unsubstantiated"),
    "state.feedback_sent": ("已反馈", "Feedback sent"),
    "trigger.issue_notice": ("下达整改通知", "Issue the rectification notice"),
    "trigger.submit_report": ("提交整改报告", "Submit the rectification report"),
    "trigger.accept_report": ("整改合格", "Accept the report"),
    "trigger.reject_report": ("整改不合格，退回", "Reject the report"),
    "trigger.deadline_passed": ("整改期限届满", "Deadline passed"),
    "trigger.revoke": ("撤销", "Revoke"),
    "trigger.triage": ("分办", "Triage"),
    "trigger.substantiate": ("认定属实", "Substantiate"),
    "trigger.dismiss": ("认定不属实", "Dismiss"),
    "trigger.send_feedback": ("反馈举报人", "Send feedback"),
    "task.issue_notice": ("下达整改通知", "Issue the notice"),
    "task.rectification_report": ("提交整改报告", "Rectification report"),
    "task.rectification_review": ("审核整改报告", "Review the rectification report"),
    "task.triage": ("举报分办", "Triage"),
    "task.investigation": ("调查核实", "Investigation"),
    "task.feedback": ("反馈举报人", "Feedback to the reporter"),
    "procedure.retirement": ("减排量注销", "Retirement"),
    "state.open": ("待提交监测报告", "Open"),
    "state.verification": ("第三方核查", "Verification"),
    "state.issued": ("已签发", "Issued"),
    "state.on_hold": ("暂停（整改中）", "On hold"),
    "state.expired": ("申请期已过", "Expired"),
    "state.requested": ("已申请", "Requested"),
    "state.retired": ("已注销", "Retired"),
    "trigger.submit_monitoring_report": ("提交监测报告", "Submit the monitoring report"),
    "trigger.verify": ("出具核证意见", "Verify"),
    "trigger.decline_verification": ("核查退回", "Return from verification"),
    "trigger.hold": ("暂停", "Put on hold"),
    "trigger.release": ("恢复", "Release from hold"),
    "trigger.expire": ("申请期届满", "Application window closes"),
    "task.monitoring_report": ("提交监测报告", "Monitoring report"),
    "task.verification": ("核查", "Verification"),
    "task.retirement_review": ("注销审核", "Retirement review"),
    "trigger.comment": ("提交意见", "Comment"),
    "trigger.comment_period_end": ("征求意见期满", "Comment period ends"),
    "trigger.answer_comment": ("答复意见", "Answer a comment"),
    "trigger.disposition_done": ("意见处理完毕", "Disposition done"),
    "task.comment_disposition": ("意见处理", "Comment disposition"),
    # --- states ---
    "state.draft": ("草稿", "Draft"),
    "state.submitted": ("已提交", "Submitted"),
    "state.supplement_requested": ("待补正材料", "Supplement requested"),
    "state.technical_review": ("技术评估", "Technical review"),
    "state.expert_review": ("专家评审", "Expert review"),
    "state.revision_requested": ("待修改", "Revision requested"),
    "state.authority_decision": ("主管部门审定", "Authority decision"),
    "state.publicity": ("公示", "Publicity"),
    "state.objection_review": ("异议处理", "Objection review"),
    "state.registered": ("已登记", "Registered"),
    "state.disclosed": ("已公开（二类项目）", "Disclosed (class 2)"),
    "state.rejected": ("不予登记", "Rejected"),
    "state.withdrawn": ("已撤回", "Withdrawn"),
    "state.lapsed": ("逾期失效", "Lapsed"),
    # --- triggers ---
    "trigger.edit": ("修改申请", "Edit application"),
    "trigger.submit": ("提交申请", "Submit"),
    "trigger.accept": ("受理", "Accept"),
    "trigger.request_supplement": ("要求补正材料", "Request supplement"),
    "trigger.resubmit": ("重新提交", "Resubmit"),
    "trigger.lapse": ("补正逾期", "Lapse (deadline passed)"),
    "trigger.pass_review": ("技术评估通过", "Pass technical review"),
    "trigger.fail_review": ("技术评估不通过", "Fail technical review"),
    "trigger.compose_panel": ("组建专家组", "Compose expert panel"),
    "trigger.record_opinion": ("提交专家意见", "Record expert opinion"),
    "trigger.draw_panel": ("随机抽取专家组", "Draw the expert panel"),
    "trigger.decline_panel": ("拒绝/回避评审", "Decline the seat"),
    "trigger.acknowledge_escalation": ("确认超时督办", "Acknowledge the escalation"),
    "task.sla_escalation": ("超时督办", "SLA escalation"),
    "trigger.panel_pass": ("专家组结论：通过", "Panel: pass"),
    "trigger.panel_revise": ("专家组结论：修改后再审", "Panel: revise"),
    "trigger.panel_reject": ("专家组结论：不通过", "Panel: reject"),
    "trigger.approve": ("审定通过", "Approve"),
    "trigger.reject": ("不予登记", "Reject"),
    "trigger.disclose": ("公开二类项目信息", "Disclose class-2 project"),
    "trigger.lodge_objection": ("提出异议", "Lodge an objection"),
    "trigger.publicity_end": ("公示期满", "Publicity period ends"),
    "trigger.dismiss_objections": ("异议不成立", "Dismiss objections"),
    "trigger.uphold_objection": ("异议成立", "Uphold objection"),
    "trigger.withdraw": ("撤回申请", "Withdraw"),
    # --- tasks ---
    "task.completeness_check": ("完整性审查", "Completeness check"),
    "task.supplement": ("补正材料", "Supplement materials"),
    "task.technical_review": ("技术评估", "Technical review"),
    "task.compose_panel": ("组建专家组", "Compose expert panel"),
    "task.expert_opinion": ("专家意见", "Expert opinion"),
    "task.panel_conclusion": ("专家组结论", "Panel conclusion"),
    "task.revise": ("修改材料", "Revise materials"),
    "task.authority_decision": ("审定", "Authority decision"),
    "task.objection_review": ("异议处理", "Objection review"),
    # --- what people are told of (in-app notifications, e-mail) ---
    "notification.reminder": ("任务即将到期提醒", "A task is due soon"),
    "notification.due_today": ("任务今日到期", "A task is due today"),
    "notification.sla_escalation": ("超时督办", "A deadline was missed"),
    "notification.objection_lodged": ("收到公示异议", "An objection was lodged"),
    "notification.panel_invitation": ("专家评审邀请", "You are on an expert panel"),
    "notification.task_assigned": ("任务已分派给您", "A task was assigned to you"),
    # --- case events that are not triggers (the timeline) ---
    "event.created": ("创建", "Created"),
    "event.document_added": ("上传材料", "Document added"),
    "event.task_claimed": ("领取任务", "Task claimed"),
    "event.task_unclaimed": ("放弃领取任务", "Task released"),
    "event.task_delegated": ("转交任务", "Task delegated"),
    "event.task_assigned": ("分派任务", "Task assigned"),
    "event.methodology_withdrawn": ("撤回方法学", "Methodology withdrawn"),
    "role.applicant": ("申请主体", "Applicant"),
    "role.case_officer": ("主管部门经办人", "Case officer"),
    "role.approver": ("主管部门审定人", "Approver"),
    "role.review_centre": ("核证中心/技术支撑机构", "Review centre"),
    "role.expert": ("专家", "Expert"),
    "role.verifier": ("第三方核查机构", "Verifier"),
    "role.operator": ("运营管理机构/交易所", "Operator / exchange"),
    "role.admin": ("系统管理员", "Administrator"),
    "role.public": ("社会公众", "The public"),
    "role.system": ("系统", "System"),
    # --- commitments at submission ---
    "commitment.no_other_voluntary_scheme": (
        "承诺不重复参与国内外温室气体自愿减排机制",
        "Not registered in any other domestic or international voluntary GHG scheme",
    ),
    "commitment.no_green_power_trading": ("承诺不参与绿色电力交易", "Not taking part in green-power trading"),
    "commitment.no_green_certificate": ("承诺不参与绿色电力证书交易", "Not trading green-power certificates"),
    "commitment.implementation_plan": (
        "已制定组织实施方案（含公益性承诺与收益管理方案）",
        "An implementation plan (public-interest commitment and revenue plan) is attached",
    ),
    "commitment.revenue_return_90": (
        "扣除运行成本后不低于90%的收益返还参与用户",
        "At least 90% of proceeds after costs are returned to participating users",
    ),
    "commitment.annual_revenue_audit": (
        "委托专业审计机构定期编制收益使用审计报告并公开",
        "An audit of revenue use is commissioned and published every year",
    ),
    "commitment.unique": ("项目具备唯一性，未参与其他减排交易机制", "The project is unique: in no other scheme"),
    "commitment.not_in_national_ets": ("未纳入国家碳排放权交易市场配额管理", "Not under the national ETS"),
    "commitment.no_mandatory_obligation": (
        "不属于法律法规、国家政策规定有温室气体减排义务的项目",
        "No statutory GHG reduction obligation applies",
    ),
    "commitment.inclusive": ("项目具备普惠性", "The project is inclusive (普惠性)"),
    "commitment.no_ccer_vcs": (
        "未申报或签发CCER、VCS等温室气体自愿减排项目减排量",
        "Not applied for or issued under CCER, VCS or similar schemes",
    ),
    # --- reasons (422 / 403 / 409) ---
    "reason.commitment_missing": ("缺少承诺：{label_zh}", "Missing commitment: {label_en}"),
    "reason.double_registration": (
        "项目已在{scheme}登记（{reference}），不得重复申请",
        "The project is already registered under {scheme} ({reference}); double registration is not allowed",
    ),
    "reason.no_separate_registration": (
        "{jurisdiction_zh}不单独登记项目：项目随首次减排量备案一并备案{basis_zh}",
        "{jurisdiction_en} has no separate project registration: a project is filed with its first "
        "reduction filing{basis_en}",
    ),
    "reason.class_required": ("须注明项目类别（一类或二类）", "The project class (1 or 2) is required"),
    "reason.class_not_in_profile": ("本辖区不区分项目类别", "This jurisdiction has no project classes"),
    "reason.class2_not_registered": (
        "二类项目无需登记，仅公开项目信息",
        "Class-2 projects are not registered, only disclosed",
    ),
    "reason.class1_not_disclosed": (
        "一类项目须经审核登记，不能仅公开",
        "Class-1 projects go through review and registration, not disclosure",
    ),
    "reason.methodology_unknown": ("未找到所引用的方法学 {code} {version}", "Methodology {code} {version} not found"),
    "reason.methodology_jurisdiction": (
        "方法学 {code} {version} 不属于本辖区",
        "Methodology {code} {version} belongs to another jurisdiction",
    ),
    "reason.methodology_kind": (
        "方法学 {code} {version} 适用于{kind_zh}，与申请类型不符",
        "Methodology {code} {version} is for a {kind_en}, not this application",
    ),
    "reason.methodology_not_filed": (
        "方法学 {code} {version} 状态为{status}，不可引用",
        "Methodology {code} {version} is {status} and cannot be cited",
    ),
    "reason.methodology_tier": (
        "一类项目须依据一级方法学开发{basis_zh}",
        "A class-1 project needs a level-1 methodology{basis_en}",
    ),
    "reason.methodology_superseded": (
        "方法学 {code} {version} 已被 {current} 替代，宽限期至 {until} 已过，请引用现行版本 {current}",
        "Methodology {code} {version} was superseded by {current}; its grace period ended {until}: "
        "cite {current}",
    ),
    "reason.tier_required": ("须注明方法学级别：{tiers}", "The methodology tier is required: one of {tiers}"),
    "reason.tier_not_in_profile": ("本辖区方法学不分级别", "This jurisdiction has no methodology tiers"),
    "reason.duplicate_version": (
        "方法学 {code} 版本 {version} 已存在或正在备案",
        "Methodology {code} version {version} already exists or is being filed",
    ),
    "reason.revision_same_version": ("修订版本号须不同于被修订版本", "A revision needs a new version number"),
    "reason.revision_not_filed": (
        "被修订的方法学 {code} {version} 不是已备案状态（{status}）",
        "The version revised, {code} {version}, is not filed ({status})",
    ),
    "reason.higher_standard": (
        "同一场景已有更高级别标准 {code} {version}（{tier}），不得备案团体标准{basis_zh}",
        "A higher standard covers this scope: {code} {version} ({tier}); a group standard cannot be "
        "filed{basis_en}",
    ),
    "reason.comment_unknown": ("未找到意见 #{id}", "No comment #{id} on this case"),
    "reason.comment_answered": ("意见 #{id} 已答复", "Comment #{id} is already answered"),
    "reason.comments_unanswered": (
        "尚有{count}条意见未答复：{ids}",
        "{count} comment(s) are not answered yet: {ids}",
    ),
    "reason.consultation_closed": ("征求意见期已结束或未开始", "The consultation is not open"),
    "reason.document_too_large": ("文件超过 {limit} 字节上限", "The document exceeds the {limit}-byte limit"),
    "reason.document_type": (
        "文件类型不允许或与内容不符：声明为 {declared}，内容为 {detected}",
        "Document type not allowed or not matching its content: declared {declared}, content {detected}",
    ),
    "reason.document_empty": ("文件为空", "The document is empty"),
    "reason.document_not_editable": (
        "当前阶段不能上传材料",
        "Documents cannot be added at this stage",
    ),
    "reason.location_unlisted": (
        "请从行政区划列表中选择实施地点（须在{area_zh}行政区域内）{basis_zh}",
        "Choose the location from the list of administrative divisions (it must lie in {area_en}){basis_en}",
    ),
    "reason.location_outside_area": (
        "实施地点{where_zh}不在{area_zh}行政区域内，减排量应全部产生在本辖区{basis_zh}",
        "The location, {where_en}, is outside {area_en}: all reductions must arise within it{basis_en}",
    ),
    "reason.not_running_yet": (
        "项目/场景须正式运行后方可申请：开始日期 {start} 晚于申请日 {today}{basis_zh}",
        "Apply only once the project or scenario is running: it starts {start}, after today ({today}){basis_en}",
    ),
    "reason.higher_standard_applies": (
        "方法学 {code} {version}（{tier_zh}）的适用范围“{scope}”已有更高级别的 {higher_code} {higher_version}"
        "（{higher_tier_zh}），应优先采用{basis_zh}",
        "{higher_code} {higher_version} ({higher_tier_en}) covers the scope “{scope}” of {code} {version} "
        "({tier_en}): the higher standard is adopted first{basis_en}",
    ),
    "reason.prohibited_national_ets": (
        "纳入国家碳排放权交易市场配额管理的项目（{reference}）不得申请开发碳普惠减排量{basis_zh}",
        "A project under the national ETS's allowance management ({reference}) may not be developed for "
        "carbon-inclusion reductions{basis_en}",
    ),
    "reason.first_filing_not_here": (
        "本辖区项目须先登记，不随首次减排量备案一并备案",
        "Projects register first here; a project is not filed with its first reduction filing",
    ),
    "reason.project_unknown": ("未找到本辖区项目 #{id}", "No project #{id} in this jurisdiction"),
    "reason.project_not_registered": (
        "项目状态为{status}，未登记，不能申请签发",
        "The project is {status}, not registered",
    ),
    "reason.project_suspended": (
        "项目已暂停（整改案件 #{case}），签发不能进行",
        "The project is suspended (rectification case #{case}): no issuance proceeds",
    ),
    "reason.class2_no_issuance": (
        "二类项目不签发减排量{basis_zh}",
        "Class-2 projects are never issued reductions{basis_en}",
    ),
    "reason.vintage_taken": (
        "该项目 {vintage} 年度已有签发案件",
        "The project already has an issuance case for {vintage}",
    ),
    "reason.period_too_early": ("监测期不得早于 {earliest}", "The monitoring period may not start before {earliest}"),
    "reason.period_in_future": ("监测期不得晚于申报日", "The monitoring period may not end after today"),
    "reason.period_lookback": (
        "监测期起始日不得早于 {earliest}（最长追溯{years}年）",
        "The monitoring period may not start before {earliest} (look-back {years} years)",
    ),
    "reason.period_vintage": ("监测期须在 {vintage} 年度内结束", "The monitoring period must end in {vintage}"),
    "reason.period_overlap": (
        "监测期与案件 #{case} 的 {start} 至 {end} 重叠",
        "The monitoring period overlaps case #{case} ({start} to {end})",
    ),
    "reason.verifier_unknown": ("未找到本辖区备案的核查机构", "No verifier filed in this jurisdiction by that id"),
    "reason.verifier_expired": (
        "核查机构资质已于 {until} 到期或尚未生效",
        "The verifier's accreditation is not valid today ({until})",
    ),
    "reason.verifier_scope": (
        "核查机构备案范围（{scopes}）不含本项目",
        "The verifier is not accredited for this project ({scopes})",
    ),
    "reason.verifier_conflict": (
        "核查机构不得对其编制核算报告的项目进行核查{basis_zh}",
        "A verifier may not verify a report it prepared{basis_en}",
    ),
    "reason.sheet_missing": (
        "未找到该 SHA-256 对应的减排量计算表，请先上传",
        "Upload the calculation sheet first (SHA-256 not found)",
    ),
    "reason.not_commissioned_verifier": ("您不属于受托核查机构", "You are not with the commissioned verifier"),
    "reason.verified_over_claimed": ("核证量不得超过申报量 {claimed}", "Verified may not exceed claimed ({claimed})"),
    "reason.not_verified": ("尚无核证结果", "Not verified yet"),
    "reason.issued_over_verified": ("签发量不得超过核证量 {verified}", "Issued may not exceed verified ({verified})"),
    "reason.party_disqualified": (
        "{org}已于{decided_on}被取消参与{jurisdiction_zh}碳普惠市场的资格（案件 {case}：{why}），"
        "不得{action_zh}{basis_zh}",
        "{org} was disqualified from {jurisdiction_en}'s carbon-inclusion scheme on {decided_on} (case {case}: {why}) "
        "and may not {action_en}{basis_en}",
    ),
    "disqualified_action.new_case": ("提出新的申请", "open a new case"),
    "disqualified_action.transfer_from": ("转出减排量", "transfer reductions out"),
    "disqualified_action.transfer_to": ("受让减排量", "receive reductions"),
    "disqualified_action.retirement": ("为自身注销减排量", "retire reductions on its own behalf"),
    "text.disqualification_reason": ("提供虚假材料等不诚信行为，逾期未改正", "false materials, not corrected in time"),
    "reason.declaration_missing": (
        "须声明本次签发的减排量未在其他温室气体自愿减排机制中申报或签发{basis_zh}",
        "Declare that these reductions are not claimed in another voluntary scheme{basis_en}",
    ),
    "reason.double_claim_not_here": (
        "{jurisdiction_zh}的办法未规定签发后重复申报的认定",
        "{jurisdiction_en}'s rules provide no double-claim finding",
    ),
    "reason.issued_block_unknown": ("本辖区没有签发序列号为 {serial} 的减排量", "No block {serial} was issued here"),
    "reason.already_found_elsewhere": (
        "序列号 {serial} 已被认定在 {scheme} 重复申报", "Block {serial} was already found claimed in {scheme}",
    ),
    "reason.units_frozen": (
        "减排量 {serials} 因在其他机制重复申报已被冻结，不得转让或注销{basis_zh}",
        "Units {serials} are frozen, found claimed in another scheme: they may not be transferred or retired{basis_en}",
    ),
    "text.double_claim_finding": (
        "已签发的减排量 {serial} 在 {scheme} 重复申报：{evidence}",
        "Issued block {serial} is claimed in {scheme}: {evidence}",
    ),
    "field.not_claimed_elsewhere": (
        "声明：本次减排量未在其他自愿减排机制申报", "Declaration: not claimed in another scheme",
    ),
    "field.serial": ("序列号", "Serial"),
    "field.evidence": ("发现情况", "Evidence"),
    "reason.not_enough_held": ("持有量 {held} 吨不足 {asked} 吨", "Only {held} t held, {asked} t asked"),
    "reason.first_issuance_not_here": (
        "本辖区首次减排量签发不能随项目登记一并申请",
        "Here the first issuance cannot be applied for together with the registration",
    ),
    "reason.serial_malformed": ("序列号区间格式错误：{serials}", "Malformed serial range: {serials}"),
    "reason.serial_size": ("序列号区间含 {size} 吨，与数量 {amount} 不符", "The range holds {size} t, not {amount}"),
    "reason.serial_not_held": (
        "序列号区间 {serials} 不存在或不全归您持有",
        "Range {serials} does not exist or is not all yours",
    ),
    "reason.rounds_exhausted": (
        "整改已退回{rounds}次，已达上限，请作出撤销或其他决定",
        "The report was sent back {rounds} times, the most allowed: revoke or decide otherwise",
    ),
    "reason.objection_receipt_unknown": (
        "没有这个异议受理号，请核对后重新输入（格式如 OBJ-20260301-1A2B3C4D）",
        "No objection has this receipt number: check it and enter it again (like OBJ-20260301-1A2B3C4D)",
    ),
    "reason.report_secret": ("受理号或查询码错误", "Unknown receipt or wrong secret"),
    "reason.rate_limited": ("查询过于频繁，请{minutes}分钟后再试", "Too many attempts: try again in {minutes} minutes"),
    "reason.panel_size": (
        "专家组人数须为不少于{min}人的奇数",
        "An expert panel needs an odd number of at least {min} members",
    ),
    "reason.panel_chair": ("组长须为专家组成员", "The chair must be a member of the panel"),
    "reason.panel_not_expert": (
        "用户 {user} 不在本辖区专家库中",
        "User {user} is not in this jurisdiction's expert pool",
    ),
    "reason.panel_duplicate": ("专家组成员重复", "A panel member is named twice"),
    "reason.panel_pool_too_small": (
        "专家库中符合条件（专业领域、回避、冷却期）的专家只有{available}人，不足{needed}人，请由经办人指定专家组",
        "Only {available} eligible experts (field, recusal, cool-off) for a panel of {needed}; "
        "a case officer must name the panel",
    ),
    "reason.panel_already": ("本案已组建专家组", "A panel is already composed for this case"),
    "reason.panel_missing": ("尚未组建专家组", "No expert panel has been composed yet"),
    "reason.not_panel_member": ("您不是本案专家组成员", "You are not on this case's expert panel"),
    "reason.not_panel_chair": ("只有专家组组长可以给出结论", "Only the panel chair records the conclusion"),
    "reason.opinion_recorded": ("您已提交专家意见", "You have already recorded your opinion"),
    "reason.quorum": (
        "专家意见不足法定人数：已有{given}份，需要{needed}份",
        "No quorum: {given} opinions recorded, {needed} needed",
    ),
    "reason.publicity_days": (
        "公示期须为{min}至{max}个工作日",
        "The publicity period must be {min} to {max} working days",
    ),
    "reason.objections_open": ("仍有{count}件异议未处理", "{count} objection(s) are still open"),
    "reason.no_open_objection": ("没有待处理的异议", "There is no open objection"),
    "reason.not_owner": ("您不是本案申请主体", "You are not the applicant of this case"),
    "reason.role_required": ("需要本辖区的{roles_zh}角色", "Needs the {roles_en} role in this jurisdiction"),
    "reason.task_held": (
        "该任务已由 {holder} 认领，不能由您办理",
        "This task is claimed by {holder}; you cannot complete it",
    ),
    "reason.illegal_transition": (
        "当前状态“{state_zh}”下不能执行“{trigger_zh}”",
        "“{trigger_en}” is not allowed in state “{state_en}”",
    ),
    "reason.unknown_trigger": ("未知操作：{trigger}", "Unknown action: {trigger}"),
    "reason.stale_version": (
        "案件已被他人更新（当前版本 {current}，您提交的版本 {given}）",
        "The case changed meanwhile (current version {current}, yours {given})",
    ),
    "reason.idempotency_mismatch": (
        "幂等键已用于另一请求",
        "This Idempotency-Key was already used for a different request",
    ),
    "reason.idempotency_running": (
        "使用该幂等键的请求仍在处理中，请稍后重试",
        "The request with this Idempotency-Key is still being processed; retry shortly",
    ),
    "reason.transfer_reference_used": (
        "结算编号 {reference} 已用于另一笔转移（#{entry}）",
        "Settlement reference {reference} was already used for another transfer (#{entry})",
    ),
    "reason.unknown_jurisdiction": ("未知辖区：{code}", "Unknown jurisdiction: {code}"),
    "reason.unknown_procedure": ("未知程序：{name}", "Unknown procedure: {name}"),
    "reason.procedure_not_creatable": ("该程序不能由申请人发起", "This procedure cannot be started by an applicant"),
    "reason.no_organisation": ("您的账户未关联申请单位", "Your account is not linked to an organisation"),
    "reason.not_found": ("未找到{what}", "{what_en} not found"),
    "reason.unauthenticated": ("请提供有效的访问令牌", "A valid bearer token is required"),
    "reason.forbidden": ("无权执行此操作", "You may not do this"),
    "reason.task_not_open": ("任务已关闭", "The task is no longer open"),
    "reason.task_not_claimed_by_you": ("该任务未由您认领", "You have not claimed this task"),
    "reason.task_claimed": ("该任务已由 {holder} 认领", "This task is already claimed by {holder}"),
    "reason.delegate_role": (
        "被委派人不具备本辖区的{role_zh}角色",
        "The delegate does not hold the {role_en} role in this jurisdiction",
    ),
    "reason.no_task_for_you": (
        "您没有可办理“{trigger_zh}”的待办任务（可能已办理或由他人办理）",
        "You have no open task for “{trigger_en}” (done already, or addressed to someone else)",
    ),
    "reason.task_personal": ("该任务指定由特定人员办理", "This task is addressed to a named person"),
    "reason.trigger_not_of_task": (
        "该任务只能以以下操作完成：{allowed}",
        "This task is completed only by: {allowed}",
    ),
    "reason.calendar_year": ("年份 {year} 的日期不一致", "Dates do not all lie in year {year}"),
    "reason.calendar_duplicate": ("{day}（{jurisdiction_zh}）出现两次", "{day} ({jurisdiction_en}) is given twice"),
    "reason.date_range": (
        "日期须在 1900-01-01 至 2099-12-31 之间",
        "Dates must lie between 1900-01-01 and 2099-12-31",
    ),
    "reason.bad_cursor": ("分页游标无效", "The page cursor is invalid"),
    "reason.withdraw_after_review": ("技术评估开始后不能撤回", "Cannot withdraw once technical review is over"),
    # --- confidentiality ---
    "visibility.public": ("公开材料", "Public material"),
    "visibility.case": ("申请材料（不公开）", "Application material (not public)"),
    "visibility.internal": ("内部审查材料", "Internal review material"),
    "reason.document_visibility": (
        "材料可见范围“{given}”无效（可选 public、case、internal）",
        "Unknown visibility “{given}” (public, case or internal)",
    ),
    "reason.document_visibility_not_yours": (
        "您不能上传“{given_zh}”；您可以选择：{allowed_zh}",
        "You cannot upload “{given_en}” material; your choices: {allowed_en}",
    ),
    "reason.publication_final": (
        "案件已办结，已公开的材料不能撤回公开标记",
        "The case is closed: a published document stays published",
    ),
    "reason.handler_not_officer": (
        "用户 {user} 不是本辖区的经办人",
        "User {user} is not a case officer of this jurisdiction",
    ),
    "reason.handler_not_assigned": ("用户 {user} 未被指定承办本举报", "User {user} is not assigned to this report"),
    "reason.reporter_not_handler": (
        "只有审定人指定承办本举报的经办人才能查看举报人身份",
        "Only the case officers the approver assigned to this report may read the reporter's identity",
    ),
    "trigger.assign_handlers": ("指定举报承办人", "Assign the report's handlers"),
    "trigger.withdraw_handlers": ("撤回承办指定", "Withdraw handlers"),
    "task.handler_assignment": ("指定举报承办人", "Assign the report's handlers"),
    "event.document_published": ("标记材料公开", "Document marked for publication"),
    "event.document_unpublished": ("撤回材料公开标记", "Publication mark taken back"),
    "event.reporter_identity_read": ("查看举报人身份", "Reporter's identity read"),
    # --- the staff workspace: the decision brief, the queue, the bell (issue 15) ---
    "brief.methodology": ("{code} v{version}《{title}》", "{code} v{version} “{title}”"),
    "brief.methodology_unfiled": ("{code} v{version}（登记簿中未找到该备案版本）",
                                  "{code} v{version} (no such filed version in the registry)"),
    "brief.methodology_label": ("适用方法学", "Methodology"),
    "brief.pair": ("{label_zh}：{value_zh}", "{label_en}: {value_en}"),
    "brief.state_with_objection": ("{state_zh} · 有 {n} 件异议待处理", "{state_en} · {n} objection(s) open"),
    "brief.minutes": ("{n} 分钟", "{n} min"),
    "brief.hours": ("{n} 小时", "{n} h"),
    "brief.days": ("{n} 天", "{n} days"),
    "brief.chair": ("组长", "Chair"),
    "brief.report": ("审查报告", "Review report"),
    "brief.to_user": ("交给", "Handed to"),
    "brief.declined": ("谢绝的专家", "Expert who declined"),
    "brief.replacement": ("替补专家", "Replacement"),
    "brief.chosen": ("抽取的专家", "Experts drawn"),
    "brief.document_name": ("文件", "Document"),
    "brief.visibility": ("可见范围", "Visibility"),
    "brief.members": ("专家组成员（勾选）", "Panel members (tick)"),
    "brief.officers": ("承办经办人（勾选）", "Handling officers (tick)"),
    "brief.diagram_state": ("{mark}{state}（{spent}）", "{mark}{state} ({spent})"),
    "brief.no_report": ("— 不附报告 —", "— no report —"),
    "field.members_named": ("专家组成员", "Panel members"),
    "field.officers_named": ("承办经办人", "Handling officers"),
    "field.report_document": ("审查报告（从本案已上传的材料中选择）",
                              "Review report (one of the case's uploaded documents)"),
    # what the outbox carries (services/orchestration/dispatch.py HANDLERS), on the administrators' pages
    "outbox_kind.hold_project": ("冻结项目（整改期间）", "Hold the project (rectification)"),
    "outbox_kind.release_project": ("解除项目冻结", "Release the project"),
    "outbox_kind.notify": ("发送通知", "Send a notification"),
    "outbox_kind.convene_panel": ("随机抽取专家组", "Draw the expert panel"),
    "outbox_kind.assign": ("分派给经办人", "Assign to an officer"),
    "outbox_kind.open_publicity": ("发布公示", "Publish a publicity notice"),
    "outbox_kind.close_publicity": ("结束公示", "Close a publicity notice"),
    "outbox_kind.open_consultation": ("发布征求意见", "Open a public consultation"),
    "outbox_kind.close_consultation": ("结束征求意见", "Close a public consultation"),
    "outbox_kind.publish_registration": ("公布登记结果", "Publish a registration"),
    "outbox_kind.publish_disclosure": ("公布二类项目信息", "Publish a disclosure"),
    "outbox_kind.publish_methodology": ("公布备案方法学", "Publish a filed methodology"),
    "outbox_kind.publish_dispositions": ("公布意见处理情况", "Publish the comments' dispositions"),
    "outbox_kind.publish_revocation": ("公布撤销登记", "Publish a revocation"),
    "objection_status.open": ("待处理", "Open"),
    "objection_status.dismissed": ("不成立", "Dismissed"),
    "objection_status.upheld": ("成立", "Upheld"),
    "subject_status.draft": ("草稿", "Draft"),
    "subject_status.under_review": ("审查中", "Under review"),
    "subject_status.in_publicity": ("公示中", "In publicity"),
    "subject_status.registered": ("已登记", "Registered"),
    "subject_status.disclosed": ("已披露", "Disclosed"),
    "subject_status.rejected": ("不予登记", "Rejected"),
    "subject_status.withdrawn": ("已撤回", "Withdrawn"),
    "subject_status.lapsed": ("已失效", "Lapsed"),
    "subject_status.revoked": ("已撤销", "Revoked"),
    "subject_status.filed": ("已备案", "Filed"),
    "subject_status.superseded": ("已被替代", "Superseded"),
    "reason.report_document_unknown": ("所选报告不是本案可读的材料，请重新选择",
                                       "The report chosen is not a document of this case you may read: choose again"),
    "reason.person_unknown": ("所选人员不在名单中，请重新选择", "The person chosen is not on the list: choose again"),
    "notification.report_handler_assigned": ("您被指定承办一件举报", "You are assigned to handle a report"),
    # --- transparency log ---
    "reason.log_empty": ("透明日志尚无签名树头", "The transparency log has no signed head yet"),
    "reason.log_no_key": ("尚未配置透明日志的签名公钥", "No public key of the transparency log is configured"),
    "reason.log_size": ("树大小 {size} 超出最新签名树头的大小 {latest}",
                        "Tree size {size} is beyond the newest signed head's ({latest})"),
    "reason.log_order": ("first 不能大于 second", "first must not be larger than second"),
    "reason.log_leaf": ("日志中没有序号为 {seq} 的叶子", "The log has no leaf {seq}"),
    "reason.log_leaf_hash": ("日志中没有该哈希的叶子", "The log has no leaf with this hash"),
    "reason.log_inclusion_args": ("请给出 seq 或 leaf_hash 其中之一", "Give either seq or leaf_hash"),
    "reason.checkpoint_malformed": ("这不是一个有效的检查点（签名树头）：应为三行正文、一个空行和签名行",
                                    "Not a checkpoint (signed tree head): three body lines, a blank line, "
                                    "then signature lines"),
    "reason.checkpoint_other_log": ("该检查点属于另一个日志（{origin}）",
                                    "The checkpoint is of another log ({origin})"),
    "reason.checkpoint_unknown_key": ("该检查点没有本日志密钥的签名：不是本日志签发的",
                                      "The checkpoint carries no signature by this log's keys: this log did not "
                                      "sign it"),
    "log.pending": ("该注销的账本记录尚未写入透明日志（通常一分钟内写入），稍后再查即可获得其包含证明",
                    "The retirement's ledger entry is not in the transparency log yet (usually within a minute); "
                    "check again later for its inclusion proof"),
    "reason.checkpoint_bad_signature": ("签名验证失败：检查点被改动或伪造",
                                        "The signature does not verify: the checkpoint was altered or forged"),
    # --- administrator scopes ---
    "jurisdiction.CN": ("全国", "National"),
    "reason.national_admin_required": (
        "此操作需要全国系统管理员（全国范围的管理员角色）",
        "This needs the national administrator (the administrator role held nationally)",
    ),
    "reason.admin_scope": ("您不是 {code} 的系统管理员", "You do not administer {code}"),
    "reason.national_admin_only": (
        "全国范围只能授予系统管理员角色，不能授予“{role}”",
        "Only the administrator role is held nationally, not “{role}”",
    ),
    "reason.calendar_local_day": (
        "{day} 限定于辖区 {code}：国务院的放假安排只含全国的日期，本地调整由该辖区单独导入",
        "{day} is limited to {code}: the State Council's notice holds national days only; a jurisdiction "
        "loads its own days separately",
    ),
    "reason.calendar_other_jurisdiction": (
        "{day} 限定于辖区 {code}，而本次导入的是 {load} 的本地日期",
        "{day} is limited to {code}, but this load is {load}'s own days",
    ),
    # --- sign-in and HTTP hygiene ---
    "reason.sign_in_throttled": (
        "登录失败次数过多，请{minutes}分钟后再试（在您曾登录过的浏览器上不受影响）",
        "Too many failed sign-ins: try again in {minutes} minutes (a browser you signed in with before is not "
        "affected)",
    ),
    "reason.body_too_large": ("请求体过大（上限 {limit}）", "The request body is too large (limit {limit})"),
    "reason.nul_character": (
        "文本中含有不允许的控制字符（NUL）",
        "The text contains a forbidden control character (NUL)",
    ),
    "reason.date_out_of_range": (
        "日期须在 {earliest} 至 {latest} 之间",
        "Dates must lie between {earliest} and {latest}",
    ),
    "reason.negative_zero": ("数量不得带负号（-0）", "An amount may not carry a minus sign (-0)"),
    "reason.document_markup": (
        "文件开头含有网页或脚本标记，不予接受",
        "The file carries web-page or script markup at its start and is not accepted",
    ),
    "reason.document_truncated": (
        "PDF 文件不完整（结尾缺少 %%EOF）",
        "The PDF is incomplete (it does not end with %%EOF)",
    ),
    # --- the strings the code says (one block: the system, edges, web pages, certificates, stored titles) ---
    # ·· the system, and how lists are said
    "system.name": ("碳普惠审批系统", "Carbon-inclusion approvals"),
    "scheme.name": ("碳普惠", "Carbon inclusion"),
    "sep.list": ("、", ", "),  # "any of": roles, visibilities, coinciding holidays
    "sep.items": ("；", "; "),  # items of a rule's value on the profile page
    "sep.clause": ("，", ", "),
    "text.other_provinces": ("其他省级行政区", "Other provinces"),
    "text.division_option": ("{zh}（{code}）", "{en} ({code})"),
    # the applicant's methodology picker: a filed version of the registry, never a typed code
    "text.methodology_option": ("{title} · {code} 版本 {version}（{tier_zh}{scope_zh}）",
                                "{title} · {code} version {version} ({tier_en}{scope_en})"),
    "text.methodology_grace": ("，已由 {by} 版替代，可引用至 {until}", "; superseded by {by}, citable until {until}"),
    "field.methodology": ("方法学（已备案版本）", "Methodology (a filed version)"),
    "help.methodology": ("只列出本地区已备案、可以引用的方法学版本；可输入编号、名称或领域筛选。",
                         "Only the versions filed here that may be cited are listed; type a code, title or "
                         "scope to narrow the list."),
    "text.basis": ("（{zh}）", " ({en})"),  # a seed article cited after a reason (Profile.cite)
    "text.located": ("{where}：{zh}", "{where}: {en}"),  # a reason about one place inside a pasted document
    "text.invalid_input": ("输入无效：{error}", "{error}"),  # a pydantic error with no Chinese template
    "text.demo_data": ("演示数据", "demo data"),  # stamped on the demo data set's documents
    # ·· what a 404 names (NotFound.of)
    "noun.case": ("案件", "Case"),
    "noun.task": ("任务", "Task"),
    "noun.document": ("文件", "Document"),
    "noun.project": ("项目", "Project"),
    "noun.methodology": ("方法学", "Methodology"),
    "noun.reporter": ("举报人", "Reporter"),
    "noun.outbox_row": ("发件箱记录", "Outbox row"),
    "noun.incident": ("运行事件", "Incident"),
    "incident.mail_subject": ("【运行事件 #{id}】{kind}（{jurisdiction}）", "[Incident #{id}] {kind} ({jurisdiction})"),
    "incident.mail": ("运行事件 #{id} 已开启：{kind}，辖区 {jurisdiction}，首次发现 {first_seen}，次数 {count}。\n"
                      "Prefect 运行：{link}\n详情：{detail}",
                      "Incident #{id} opened: {kind}, jurisdiction {jurisdiction}, first seen {first_seen}, "
                      "count {count}.\nPrefect run: {link}\nDetail: {detail}"),
    "incident.kind.flow_run_failed": ("流程运行失败或崩溃", "Flow run failed or crashed"),
    "incident.kind.dead_letter": ("死信", "Dead letters"),
    "incident.kind.loop_late": ("调度循环未按时完成", "Loop not completed within its interval"),
    "incident.kind.outbox_stale": ("发件箱记录积压过久", "Outbox rows waiting too long"),
    "incident.kind.timer_overdue": ("计时器逾期未触发", "Timers overdue"),
    "incident.status.open": ("未处理", "Open"),
    "incident.status.acknowledged": ("已确认", "Acknowledged"),
    "incident.status.resolved": ("已解决", "Resolved"),
    "noun.jurisdiction": ("辖区", "Jurisdiction"),
    "noun.procedure": ("申请程序", "Procedure"),
    "noun.notice": ("公示", "Notice"),
    "noun.consultation": ("征求意见", "Consultation"),
    "subject.project": ("减排项目", "project"),
    "subject.scenario": ("减排场景", "scenario"),
    # ·· scenario data: verification of a period (issue 17; Ordos art. 15), its refusals and its page
    "noun.scenario_report": ("核证报告", "Verification report"),
    "reason.scenario_period_unknown": ("期间“{period}”无法识别：本辖区{kind}签发",
                                       "Period '{period}' is not recognised: this jurisdiction issues {kind_en}"),
    "reason.scenario_no_quantification.verify": (
        "该场景的方法学未以数据形式声明量化方法（活动类型、公式、参数、上限），无法数字化核证",
        "The scenario's methodology declares no quantification as data (activities, formulas, parameters, caps): "
        "it cannot be verified digitally",
    ),
    "reason.scenario_input_altered": ("数据文件与接收时的 SHA-256 不一致：{batches}"
                                      "（数据须可追溯，上海办法第二十二条）",
                                      "Data files no longer match their SHA-256 taken at intake: {batches} "
                                      "(data must be traceable, Shanghai art. 22)"),
    "reason.scenario_engine_unknown": ("未知的计算引擎“{engine}”", "Unknown engine '{engine}'"),
    "reason.scenario_formula_invalid": ("活动“{activity}”的公式无法解析：{detail}",
                                        "The formula of activity '{activity}' does not parse: {detail}"),
    "reason.scenario_formula_unbound": ("活动“{activity}”的公式使用了未绑定参数的名称：{names}",
                                        "The formula of activity '{activity}' uses names bound to no parameter: "
                                        "{names}"),
    "reason.scenario_formula_no_quantity": ("活动“{activity}”的公式未使用活动量 quantity",
                                            "The formula of activity '{activity}' does not use the quantity"),
    "reason.scenario_parameter_unknown": ("活动“{activity}”绑定的参数“{name}”不是方法学登记的关键参数",
                                          "Activity '{activity}' binds '{name}', not a registered key parameter"),
    "reason.scenario_parameter_not_number": ("活动“{activity}”绑定的参数“{name}”的值不是数字",
                                             "Activity '{activity}' binds '{name}', whose value is not a number"),
    "period_kind.monthly": ("按月（如 2026-03）", "monthly (e.g. 2026-03)"),
    "period_kind.quarterly": ("按季度（如 2026-Q1）", "quarterly (e.g. 2026-Q1)"),
    "period_kind.annual": ("按年（如 2026）", "annually (e.g. 2026)"),
    "scenario_input.records": ("本期记录", "Records"),
    "scenario_input.consents": ("用户授权", "Consent"),
    "scenario_input.history": ("历史基准", "History"),
    "chart.scenario_reductions": ("每日减排量", "Reductions per day"),
    "chart.scenario_reductions_described": ("核证期内各{unit}计入的减排量（千克二氧化碳当量），共{total}千克；"
                                            "异常的{unit}以警示色和⚠标出",
                                            "Eligible reductions per {unit_en} of the period (kgCO2e), {total} kg in "
                                            "all; anomalous ones in the warning colour and marked ⚠"),
    "chart.scenario_records": ("每日计入记录数", "Records counted per day"),
    "chart.scenario_records_described": ("核证期内各{unit}计入的记录数，共{total}条",
                                         "Records counted per {unit_en} of the period, {total} in all"),
    "chart.scenario_bar": ("{first}至{last}：{value}{unit}", "{first} to {last}: {value} {unit}"),
    "chart.scenario_anomaly": ("（异常，鄂尔多斯办法第十一条）", " (anomalous, Ordos art. 11)"),
    "chart.scenario_day": ("日", "day"),
    "chart.scenario_month": ("月", "month"),
    # what verification leaves out (states/scenario_verification.py; what intake refuses is below)
    "reason.scenario_duplicate_records": ("本期数据中有{count}条记录的来源编号重复：数据文件并非全部经接收校验，"
                                          "不予核证（上海办法第二十二条）",
                                          "{count} records of the period repeat a source record id: the files were "
                                          "not all checked at intake, so the period is not verified "
                                          "(Shanghai art. 22)"),
    "reason.scenario_back_dated": ("补报超过截止日（活动所属期间结束后的补报期已过）", "Back-dated past the cut-off"),
    "reason.scenario_no_consent": ("活动日无用户授权（鄂尔多斯办法第十三条）", "No user consent on the activity date "
                                   "(Ordos art. 13)"),
    "reason.scenario_no_parameter": ("活动日无有效的关键参数", "No key parameter in force on the activity date"),
    "reason.scenario_formula_undefined": ("公式在该日无定义（除以零）",
                                          "Formula undefined that day (division by zero)"),
    # ·· the HTTP edge (a code said in more than one way has variants `reason.<code>.<variant>`)
    "reason.http.not_found": ("未找到请求的资源", "Not found"),
    "reason.http.page_not_found": ("页面不存在", "Page not found"),
    "reason.http.method_not_allowed": ("不支持该请求方法", "Method not allowed"),
    "reason.http.too_large": ("请求体过大", "Request body too large"),
    "reason.http.bad_request": ("请求错误", "{detail}"),
    "reason.internal": ("服务器内部错误，已记录", "Internal error; it has been logged"),
    "reason.out_of_range": ("数值或日期超出允许范围", "A number or date is out of range: {error}"),
    "reason.out_of_range.value": ("数值或日期超出允许范围", "A value is out of range: {error}"),
    "reason.out_of_range.database": ("数值超出数据库允许范围", "A number is out of the range the database holds"),
    "reason.too_large.body": ("请求体超过 {limit} 字节", "Body exceeds {limit} bytes"),
    "reason.json_invalid.body": ("JSON 格式错误：{error}", "Malformed JSON: {error}"),
    "reason.json_invalid.nested": ("JSON 嵌套过深", "The JSON is nested too deeply"),
    "reason.dict_type.body": ("请求体必须是 JSON 对象", "The body must be a JSON object"),
    # ·· accounts and grants
    "reason.user_unknown": ("没有该用户", "No such user"),
    "reason.user_unknown.username": ("没有用户名为 {username} 的用户", "No user is called {username}"),
    "reason.role_unknown": ("未知角色：{role}", "Unknown role: {role}"),
    "reason.role_held": ("{username} 已拥有该角色", "{username} already holds that role"),
    "reason.role_not_held": ("{username} 未拥有该角色", "{username} does not hold that role"),
    "reason.org_linked": ("您的账户已关联申请单位", "Your account already has an organisation"),
    "reason.org_exists": (
        "该统一社会信用代码已注册，请联系该单位的账户管理人",
        "This credit code is already registered; ask that organisation to add you",
    ),
    "reason.not_filed": ("该版本状态为{status}，不能撤销", "The version is {status}"),
    # ·· form validation (forms/: raised as BilingualError, reported as value_error)
    "form.uscc_length": ("统一社会信用代码须为18位", "A unified social credit code has 18 characters"),
    "form.uscc_characters": (
        "统一社会信用代码含非法字符：{characters}",
        "Characters not allowed in a unified social credit code: {characters}",
    ),
    "form.uscc_check": (
        "统一社会信用代码校验位错误（GB 32100-2015）",
        "The check character of the unified social credit code is wrong (GB 32100-2015)",
    ),
    "form.dates_ordered": ("{what_zh}的结束日期早于开始日期", "{what_en}: the end date is before the start date"),
    "form.division_unknown": (
        "行政区划代码 {code} 不在 GB/T 2260 列表中，请从列表中选择",
        "{code} is not a GB/T 2260 division on the list: choose one from it",
    ),
    "form.one_subject": (
        "须且只须填写 project_id 或 new_project 之一",
        "Give exactly one of project_id or new_project",
    ),
    "form.legal_document_required": (
        "生态环境损害替代性修复须提供法院或检察院法律文书编号",
        "Ecological-damage compensation needs the court or procuratorate document reference",
    ),
    "period.monitoring": ("监测期", "Monitoring period"),
    "period.accreditation": ("资质有效期", "Accreditation validity"),
    "period.project": ("项目运行期", "Project period"),
    # ·· titles the system gives the cases, notices and notifications it writes
    "title.issuance": ("{project} {vintage}年度减排量", "{project}: reductions of {vintage}"),
    "title.retirement": ("注销 {amount} tCO2e", "Retirement of {amount} tCO2e"),
    "title.rectification": ("{project} 整改", "{project}: rectification"),
    "title.revenue_audit": ("{project} {year}年度收益使用审计", "{project}: revenue-use audit of {year}"),
    "title.report": ("举报：{subject}", "Report: {subject}"),
    "title.suspension_notice": ("{project}：暂停并整改", "{project}: suspended for rectification"),
    "title.revocation_notice": ("{project}：撤销（退出碳普惠）", "{project}: revoked (leaves carbon inclusion)"),
    "title.case_entered": ("案件 #{case} 进入“{state_zh}”", "Case #{case} is now “{state_en}”"),
    "title.case_event": ("案件 #{case}：{event_zh}", "Case #{case}: {event_en}"),
    # ·· texts the system writes into its records (ledger references, findings, the operator's name)
    "text.clawback_false_materials": ("提供虚假材料", "False materials were provided"),
    "text.adjustment_anomalous_data": (
        "依据异常数据获得的减排量修正",
        "Correction of reductions obtained from anomalous data",
    ),
    "text.revenue_below_share": ("收益返还比例 {share} 低于 90%", "Returned share {share} is below 90%"),
    "text.revenue_report_missed": (
        "{year}年度收益使用审计报告逾期未提交",
        "The revenue-use audit report for {year} was not filed in time",
    ),
    "text.operator": ("{jurisdiction}碳普惠运营管理机构", "{jurisdiction} carbon-inclusion operator"),
    "purpose.large_event": ("大型活动碳中和", "Carbon neutrality of a large event"),
    "purpose.own_operations": ("生产经营活动碳中和", "Carbon neutrality of own operations"),
    "purpose.voluntary": ("自愿注销", "Voluntary retirement"),
    "purpose.ecological_compensation": ("生态环境损害替代性修复", "Substitute restoration of ecological damage"),
    "purpose.ets_compliance": ("碳市场配额履约清缴", "Allowance compliance in the local ETS"),
    # ·· holidays of the provisional calendar (years the State Council has not yet published)
    "holiday.new_year": ("元旦", "New Year's Day"),
    "holiday.spring_festival": ("春节", "Spring Festival"),
    "holiday.qingming": ("清明节", "Qingming Festival"),
    "holiday.labour_day": ("劳动节", "Labour Day"),
    "holiday.dragon_boat": ("端午节", "Dragon Boat Festival"),
    "holiday.mid_autumn": ("中秋节", "Mid-Autumn Festival"),
    "holiday.national_day": ("国庆节", "National Day"),
    "holiday.spring_festival_workday": ("春节调休", "Spring Festival make-up workday"),
    "example.calendar_source": ("国办发明电〔2027〕1号", "State Council General Office notice [2027] no. 1"),
    # ·· the retirement certificate (a Chinese document: each line names its thing in Chinese, then English)
    "certificate.title": (
        "碳普惠核证减排量注销证明",
        "Certificate of Retirement of Carbon-Inclusion Certified Reductions",
    ),
    "certificate.short": ("注销证明", "Retirement certificate"),
    "certificate.continued": ("{title_zh}（续）", "{title_en} (continued)"),
    "certificate.scheme": ("{jurisdiction}碳普惠", "{jurisdiction} carbon inclusion"),
    "certificate.number": ("证明编号", "No."),
    "certificate.page": ("第 {page} 页 / 共 {total} 页", "page {page} of {total}"),
    "certificate.labelled": ("{zh} {en}：{value}", "{en}: {value}"),
    "certificate.holder": ("注销主体", "Holder"),
    "certificate.uscc": ("统一社会信用代码", "USCC"),
    "certificate.amount": ("注销数量", "Amount"),
    "certificate.tonnes": ("{amount:,} 吨二氧化碳当量 (tCO2e)", "{amount:,} tCO2e"),
    "certificate.purpose": ("注销用途", "Purpose"),
    "certificate.date": ("注销日期", "Date"),
    "certificate.long_date": ("{year}年{month}月{day}日", "{year}-{month:02d}-{day:02d}"),
    "certificate.serials": ("减排量序列号", "Serial numbers ({count})"),
    "certificate.issuer": ("出具机构", "Issued by"),
    "certificate.closing": (
        "上述减排量已注销，不可重复使用和交易。",
        "The reductions above have been retired and may not be used again or traded.",
    ),
    "certificate.url": ("核验网址", "Verification URL"),
    "certificate.fingerprint": ("数据指纹", "Fingerprint (SHA-256)"),
    "certificate.verify": ("可通过上述网址核验本证明。", "This certificate can be verified at the address above."),
    "certificate.proof": ("透明日志包含证明", "Transparency-log inclusion proof"),
    "certificate.leaf_index": ("叶子序号", "Leaf index"),
    "certificate.tree_size": ("树大小", "Tree size"),
    "certificate.root": ("树根", "Root"),
    "certificate.leaf_hash": ("叶子哈希", "Leaf hash"),
    "certificate.signature": ("签名", "Signature"),
    "certificate.log": (
        "本次注销的账本记录在登记系统的透明日志（RFC 9162）中。核验：用公布的日志公钥验证签名，再按 RFC 9162 "
        "第 2.1.3.2 节验证下列包含证明（python -m services.transparency.check，或 /public/log）。",
        "To check: verify the signature with the published log key, then this inclusion proof per RFC 9162 "
        "§2.1.3.2 (python -m services.transparency.check, or /public/log).",
    ),
    # ·· web pages: access, sign-in hats and forms
    "reason.hat_required": (
        "此页面需以以下身份访问：{roles_zh}（可在页首切换身份）",
        "This page is for: {roles_en} (switch roles at the top of the page)",
    ),
    "reason.hat": ("您没有该身份", "You do not hold that role"),
    "reason.csrf": (
        "表单已失效（安全令牌不符），请返回刷新页面后重试，填写的内容未提交",
        "The form has expired (security token mismatch): go back, reload and try again; nothing was submitted",
    ),
    "reason.json_invalid.field": ("格式应为 JSON（见字段下方示例）", "Expected JSON (see the example below the field)"),
    "reason.missing.file": ("请选择要上传的文件", "Choose a file to upload"),
    "reason.missing.checkpoint": ("请粘贴一个检查点", "Paste a checkpoint"),
    "reason.missing.receipt": ("请填写受理号", "Enter the receipt number"),
    "reason.missing.secret": ("请填写查询码", "Enter the secret"),
    "reason.user_required": ("请选择要转交的同事", "Choose a colleague to delegate to"),
    "reason.outcome_required": (
        "请选择评审结论：通过、修改后再审或不通过",
        "Choose the conclusion: pass, revise or reject",
    ),
    "reason.publicity_closed": (
        "公示期已结束，不再受理异议",
        "The publicity period has ended: objections are no longer received",
    ),
    "reason.certificate_unknown": (
        "登记簿中没有该编号的注销证明",
        "The registry holds no certificate with this number",
    ),
    "reason.certificate_altered": (
        "登记簿中的证明数据与其指纹不符，请联系运营管理机构",
        "The registry's record no longer matches its fingerprint: contact the operator",
    ),
    "reason.certificate_code": (
        "校验码与该证明不符：您持有的证明可能已被篡改",
        "The code does not match this certificate: the copy you hold may have been altered",
    ),
    "reason.certificate_number": (
        "证明编号格式应为“辖区-RET-年份-六位序号”，如 SH-RET-2026-000001",
        "A certificate number looks like SH-RET-2026-000001",
    ),
    "reason.certificate_code_format": (
        "校验码为证明上印制的数据指纹（至少前 8 位十六进制字符）",
        "The code is the fingerprint printed on the certificate (at least its first 8 hex characters)",
    ),
    # ·· web pages: the administrator's
    "reason.procedure_unknown": ("未知程序：{name}", "Unknown procedure: {name}"),
    "reason.prefect_timeout": (
        "Prefect 服务 {seconds} 秒内未响应",
        "The Prefect API did not answer within {seconds} seconds",
    ),
    "reason.json_invalid.line": ("不是有效的 JSON（第 {line} 行）", "Not valid JSON (line {line})"),
    "reason.encoding": ("文件应为 UTF-8 编码的 JSON", "The file should be UTF-8 JSON"),
    "reason.too_large.notice": ("文件过大（上限 256 KB）", "File too large (limit 256 KB)"),
    "reason.year": ("年度应为 2000–2100 之间的四位数字", "The year should be four digits, 2000–2100"),
    "reason.notice_required": ("请上传文件或粘贴 JSON", "Upload a file or paste the JSON"),
    "reason.username_required": ("请填写用户名", "Enter a username"),
    "reason.role_required.choose": ("请选择角色", "Choose a role"),
    "reason.jurisdiction_required": ("请选择辖区", "Choose a jurisdiction"),
    "reason.own_admin": (
        "不能撤销自己的管理员权限（请由另一位管理员操作）",
        "You cannot revoke your own admin role (ask another administrator)",
    ),
    "chart.breaches": ("每周逾期（超出时限）件数", "SLA breaches per week"),
    "chart.breaches_described": (
        "近 {weeks} 周每周发现的逾期件数（按周一日期），共 {total} 件。",
        "Deadlines found missed in each of the last {weeks} weeks (by week start); {total} in all.",
    ),
    "chart.breaches_in_week": ("{week} 当周：逾期 {count} 件", "Week of {week}: {count} breaches"),
    "chart.breaches_unit": ("件", "breaches"),
    "chart.stage_described": (
        "各周离开「{stage}」的案件在该阶段停留天数的中位数；⚠ 为该阶段当周逾期件数（共 {total} 件）。",
        "Median days cases spent in {stage}, per week; ⚠ marks deadlines missed in that stage ({total} in all).",
    ),
    "chart.stage_median": (
        "{week} 当周：中位 {median} 天（完成 {done} 件）",
        "Week of {week}: median {median} days over {done} finished stays",
    ),
    "chart.stage_none": ("{week} 当周：无完成", "Week of {week}: no stay finished"),
    "chart.stage_missed": ("；逾期 {count} 件", "; {count} deadlines missed"),
    "chart.stage_unit": ("天", "days"),
    # ·· web pages: what a redirect's `?ok=` says after a command succeeded (post/redirect/get)
    "ok.claim": ("已领取该任务", "Task claimed"),
    "ok.unclaim": ("已放弃领取，任务回到团队待领取", "Released: the task is back with the team"),
    "ok.delegate": ("已转交", "Task delegated"),
    "ok.done": ("操作已完成", "Action completed"),
    "ok.saved": ("草稿已保存", "Draft saved"),
    "ok.submitted": ("已提交", "Submitted"),
    "ok.uploaded": ("文件已上传", "File uploaded"),
    "ok.published": ("已标记公开", "Marked for publication"),
    "ok.unpublished": ("已撤回公开标记", "Publication taken back"),
    "ok.retried": ("已重新排队投递", "Queued for another delivery"),
    "ok.imported": ("日历已导入", "Calendar imported"),
    "ok.objection": ("异议已提交", "Objection lodged"),
    "ok.comment": ("意见已提交", "Comment submitted"),
    "ok.registered": ("单位已登记", "Organisation registered"),
    "ok.created": ("已创建", "Created"),
    "ok.declined": ("已回避/谢绝", "Declined"),
    "ok.signed_out": ("您已安全退出", "You have signed out"),
    "ok.granted": ("已授予权限", "Role granted"),
    "ok.revoked": ("已撤销权限", "Role revoked"),
    "ok.opinion": ("专家意见已提交", "Opinion recorded"),
    "ok.concluded": ("专家组结论已提交", "Panel conclusion recorded"),
    "ok.resubmitted": ("已重新提交", "Resubmitted"),
    "ok.read": ("已全部标为已读", "All marked as read"),
    # ·· web pages: the procedure diagram, help under form fields, and a checkbox's own wording
    "diagram.current": ("▶ {state}（当前）", "▶ {state} (current)"),
    "help.expertise": (
        "评审所需的专业领域，例如 energy（能源）、transport（交通）",
        "The field of expertise the panel needs, e.g. energy, transport",
    ),
    "help.tier": (
        "本地区的方法学层级，例如 class_I、level_1、group",
        "The jurisdiction's tier, e.g. class_I, level_1, group",
    ),
    "help.scope": (
        "方法学量化的活动或场景，例如 新能源汽车出行",
        "The activity or scenario it quantifies, e.g. EV trips",
    ),
    "help.revises": ("本版本替代的同编号已备案版本", "The filed version of the same code this one replaces"),
    "help.private": ("不公开，仅用于与您联系核实", "Never published; used only to contact you"),
    "help.confidential": ("可不填；仅承办人员可见", "Optional; seen only by the officers handling the report"),
    "help.published_optional": ("与意见一并公开，可不填", "Published with your comment; optional"),
    "help.objection_text": (
        "写明异议的事实和理由（至少 10 个字）",
        "The facts and your reasons (at least 10 characters)",
    ),
    "help.comment_text": ("至少 10 个字", "At least 10 characters"),
    "help.report_subject": ("被举报的项目、登记编号或单位", "The project, registration number or firm reported"),
    "help.report_project_id": (
        "登记簿中的项目编号，知道时填写",
        "The project's number in the registry, if you know it",
    ),
    "help.report_content": (
        "至少 20 个字：写明时间、地点、涉及的项目或单位及具体事实",
        "At least 20 characters: when, where, which project or firm, and what happened",
    ),
    "checkbox.conflict": (
        "这是利益冲突（声明后将不再分配本案）",
        "This is a conflict of interest (keeps me off this case for good)",
    ),
    # ·· form fields as people say them (web forms; English falls back to the schema's title)
    "field.title": ("名称", "Title"),
    "field.kind": ("类型", "Kind"),
    "field.methodology_code": ("方法学编号", "Methodology code"),
    "field.methodology_version": ("方法学版本", "Methodology version"),
    "field.project_class": ("项目类别", "Project class"),
    "field.location": ("实施地点", "Location"),
    "field.division": ("行政区划（省/市/县）", "Administrative division (province / city / county)"),
    "field.address": ("详细地址", "Street address"),
    "choice.CN_ETS": ("全国碳排放权交易市场（配额管理）", "National ETS (allowance management)"),
    "field.start_date": ("开始日期", "Start date"),
    "field.end_date": ("结束日期", "End date"),
    "field.expected_annual_reduction_tco2e": ("预计年减排量（tCO2e）", "Expected annual reduction (tCO2e)"),
    "field.description": ("说明", "Description"),
    "field.consultant": ("咨询机构", "Consultant"),
    "field.expertise": ("所需专家领域", "Expertise needed"),
    "field.other_schemes": ("已在其他机制登记", "Other schemes"),
    "field.first_issuance_vintage": ("首次签发年度", "First issuance vintage"),
    "field.scheme": ("机制", "Scheme"),
    "field.reference": ("登记编号", "Reference"),
    "field.commitments": ("承诺事项", "Commitments"),
    "field.comments": ("意见说明", "Comments"),
    "field.reason": ("理由", "Reason"),
    "field.items": ("补正事项（每行一项）", "Items (one per line)"),
    "field.response": ("答复", "Response"),
    "field.changes": ("修改内容", "Changes"),
    "field.opinion": ("评审意见", "Opinion"),
    "field.report_sha256": ("报告文件 SHA-256", "Report SHA-256"),
    "field.members": ("专家用户编号（每行一个）", "Member user ids (one per line)"),
    "field.chair": ("组长用户编号", "Chair's user id"),
    "field.score": ("评分（0–100）", "Score (0–100)"),
    "field.conflict": ("利益冲突说明", "Conflict of interest"),
    "field.conclusion": ("评审结论", "Conclusion"),
    "field.dissent": ("不同意见", "Dissent"),
    "field.publicity_days": ("公示工作日数", "Publicity working days"),
    "field.reasons": ("理由（每行一条）", "Reasons (one per line)"),
    "field.name": ("姓名", "Name"),
    "field.contact": ("联系方式", "Contact"),
    "field.text": ("内容", "Text"),
    "field.reasoning": ("理由说明", "Reasoning"),
    "field.outcome": ("处理结果", "Outcome"),
    "field.tier": ("层级", "Tier"),
    "field.scope": ("适用范围", "Scope"),
    "field.summary": ("摘要", "Summary"),
    "field.parameters": ("关键参数", "Parameters"),
    "field.value": ("数值", "Value"),
    "field.unit": ("单位", "Unit"),
    "field.source": ("来源", "Source"),
    "field.source_date": ("来源日期", "Source date"),
    "field.organisation": ("单位", "Organisation"),
    "field.comment_id": ("意见编号", "Comment id"),
    "field.answer": ("答复", "Answer"),
    "field.disposition": ("采纳情况", "Disposition"),
    "field.code": ("编号", "Code"),
    "field.version": ("版本", "Version"),
    "field.revises": ("修订的版本", "Revises"),
    "field.period_start": ("监测期开始", "Period start"),
    "field.period_end": ("监测期结束", "Period end"),
    "field.claimed_tco2e": ("申请减排量（tCO2e）", "Claimed (tCO2e)"),
    "field.prepared_by_uscc": ("编制单位统一社会信用代码", "Prepared by (USCC)"),
    "field.prepared_by_name": ("编制单位名称", "Prepared by (name)"),
    "field.calculation_sheet_sha256": ("计算表 SHA-256", "Calculation sheet SHA-256"),
    "field.verifier_id": ("核查机构编号", "Verifier id"),
    "field.verified_tco2e": ("核查减排量（tCO2e）", "Verified (tCO2e)"),
    "field.issued_tco2e": ("签发减排量（tCO2e）", "Issued (tCO2e)"),
    "field.project_id": ("项目编号", "Project id"),
    "field.vintage": ("年度", "Vintage"),
    "field.period": ("签发期", "Issuance period"),
    "field.decision": ("审定决定", "Decision"),
    "field.verification": ("核证意见", "Verification"),
    "field.amount_tco2e": ("数量（tCO2e）", "Amount (tCO2e)"),
    "field.purpose": ("用途", "Purpose"),
    "field.purpose_detail": ("用途说明", "Purpose detail"),
    "field.legal_document_ref": ("法律文书编号", "Legal document ref"),
    "field.serials": ("序列号区间（每行一个）", "Serial ranges (one per line)"),
    "field.required_actions": ("整改要求（每行一项）", "Required actions (one per line)"),
    "field.deadline_days": ("整改期限（工作日）", "Deadline (working days)"),
    "field.actions_taken": ("已采取措施（每行一项）", "Actions taken (one per line)"),
    "field.notes": ("备注", "Notes"),
    "field.findings": ("发现的问题", "Findings"),
    "field.internal_notes": ("内部备注", "Internal notes"),
    "field.severity": ("严重程度", "Severity"),
    "field.category": ("类别", "Category"),
    "field.evidence_sha256": ("证据文件 SHA-256", "Evidence SHA-256"),
    "field.needs_action": ("需要整改", "Needs action"),
    "field.excess_tco2e": ("超发量（tCO2e）", "Excess (tCO2e)"),
    "field.message": ("内容", "Message"),
    "field.subject": ("举报对象", "Subject"),
    "field.content": ("举报内容", "Content"),
    "field.year": ("年度", "Year"),
    "field.proceeds_cny": ("收益（元）", "Proceeds (CNY)"),
    "field.costs_cny": ("成本（元）", "Costs (CNY)"),
    "field.returned_to_users_cny": ("返还用户金额（元）", "Returned to users (CNY)"),
    "field.auditor": ("审计机构", "Auditor"),
    "field.new_project": ("新项目", "New project"),
    "field.officers": ("承办经办人用户编号（每行一个）", "Handling officers' user ids (one per line)"),
    # ·· the enumerated values a form offers
    "choice.agree": ("同意", "Agree"),
    "choice.agree_with_changes": ("修改后同意", "Agree with changes"),
    "choice.disagree": ("不同意", "Disagree"),
    "choice.project": ("项目", "Project"),
    "choice.scenario": ("场景", "Scenario"),
    "choice.re_review": ("重新审查", "Re-review"),
    "choice.reject": ("不予登记", "Reject"),
    "choice.rectify": ("责令整改", "Rectify"),
    "choice.adopted": ("采纳", "Adopted"),
    "choice.partly_adopted": ("部分采纳", "Partly adopted"),
    "choice.not_adopted": ("不采纳", "Not adopted"),
    "choice.large_event": ("大型活动碳中和", "Large event"),
    "choice.own_operations": ("自身运营抵消", "Own operations"),
    "choice.voluntary": ("自愿注销", "Voluntary"),
    "choice.ecological_compensation": ("生态补偿", "Ecological compensation"),
    "choice.low": ("轻微", "Low"),
    "choice.medium": ("一般", "Medium"),
    "choice.high": ("严重", "High"),
    "choice.critical": ("特别严重", "Critical"),
    "choice.plan_deviation": ("偏离监测计划", "Plan deviation"),
    "choice.data_anomaly": ("数据异常", "Data anomaly"),
    "choice.false_materials": ("材料虚假", "False materials"),
    "choice.revenue_use": ("收益使用", "Revenue use"),
    "choice.double_claim": ("重复申报", "Double claiming"),
    "choice.other": ("其他", "Other"),
    "choice.1": ("一类", "Class 1"),
    "choice.2": ("二类", "Class 2"),
    # ·· a jurisdiction's profile as tables: sections, rules and values in words
    "profile_section.registration": ("项目与场景登记", "Registration"),
    "profile_section.methodology": ("方法学备案", "Methodology filing"),
    "profile_section.issuance": ("减排量签发", "Issuance"),
    "profile_section.rectification": ("整改", "Rectification"),
    "profile_section.revenue_audit": ("收益使用审计", "Revenue-use audit"),
    "profile_section.sla": ("各环节办理时限（工作日）", "Stage time limits (working days)"),
    "profile_section.clock": ("法定办理时限", "Statutory clock"),
    "profile_section.panel": ("专家评审组", "Expert panel"),
    "profile_section.reminders": ("到期提醒", "Reminders"),
    "profile_rule.separate": ("项目与场景分别登记", "Projects and scenarios registered separately"),
    "profile_rule.publicity_days": ("公示期（工作日）", "Publicity (working days)"),
    "profile_rule.publicity_days_max": ("公示期上限（工作日）", "Publicity at most (working days)"),
    "profile_rule.publication_day_counts": ("发布当日计入公示期", "Publication day counts"),
    "profile_rule.scenario_joint_review": ("场景联合技术评估", "Scenarios reviewed jointly"),
    "profile_rule.first_issuance_with_registration": ("登记时可同时首次签发", "First issuance with registration"),
    "profile_rule.project_classes": ("项目类别", "Project classes"),
    "profile_rule.commitments": ("申请人承诺事项", "Applicant's commitments"),
    "profile_rule.area": ("减排量产生区域（GB/T 2260）", "Area reductions must lie in (GB/T 2260)"),
    "profile_rule.running_before_application": ("正式运行后方可申请", "Apply only once running"),
    "profile_rule.tiers": ("方法学层级", "Methodology tiers"),
    "profile_rule.public_comment": ("公开征求意见", "Public comment"),
    "profile_rule.comment_days": ("征求意见期（工作日）", "Comment period (working days)"),
    "profile_rule.publicity": ("公示", "Publicity"),
    "profile_rule.grace_days": ("被替代版本的过渡期（自然日）", "Grace period of a superseded version (days)"),
    "profile_rule.tier_priority": ("层级优先顺序", "Tier priority"),
    "profile_rule.window": ("签发窗口", "Issuance window"),
    "profile_rule.window_opens": ("窗口开启（月-日）", "Window opens (MM-DD)"),
    "profile_rule.window_closes": ("窗口关闭（月-日）", "Window closes (MM-DD)"),
    "profile_rule.expert_review": ("专家评审", "Expert review"),
    "profile_rule.earliest_date": ("减排量最早起算日", "Earliest reduction date"),
    "profile_rule.lookback_years": ("可追溯年数", "Look-back years"),
    "profile_rule.deadline_days": ("整改期限（工作日）", "Deadline (working days)"),
    "profile_rule.max_rounds": ("最多整改轮次", "Rounds at most"),
    "profile_rule.on_failure": ("逾期未整改的处理", "When rectification fails"),
    "profile_rule.false_materials_clawback": ("材料虚假追回已签发减排量", "False materials: claw back issued units"),
    "profile_rule.anomalous_data_adjustment": ("数据异常核减", "Anomalous data: adjust units"),
    "profile_rule.enabled": ("启用", "Enabled"),
    "profile_rule.due": ("报告截止（月-日）", "Report due (MM-DD)"),
    "profile_rule.min_share": ("返还用户最低比例", "Minimum share returned"),
    "profile_rule.limit_days": ("办理时限（工作日）", "Time limit (working days)"),
    "profile_rule.paused_in": ("不计入时限的状态", "States that pause the clock"),
    "profile_rule.min_size": ("最少人数", "Minimum size"),
    "profile_rule.size": ("抽取人数", "Drawn size"),
    "profile_rule.draw": ("随机抽取", "Random draw"),
    "profile_rule.cool_off_days": ("同一对象回避期（自然日）", "Cool-off on the same subject (days)"),
    "profile_rule.quorum": ("出具意见的法定比例", "Quorum"),
    "profile_rule.before_days": ("到期前提醒（工作日）", "Remind before due (working days)"),
    "profile_word.annual": ("每年集中签发", "Annual campaign"),
    "profile_word.on_application": ("随时申请", "On application"),
    "profile_word.revoke": ("撤销登记", "Revoke"),
    "profile_word.stay_suspended": ("保持暂停", "Stay suspended"),
    "profile_word.class_I": ("I 类", "Class I"),
    "profile_word.class_II": ("II 类", "Class II"),
    "profile_word.level_1": ("一级", "Level 1"),
    "profile_word.level_2": ("二级", "Level 2"),
    "profile_word.national": ("国家标准", "National standard"),
    "profile_word.local": ("地方标准/方法学", "Local standard or methodology"),
    "profile_word.group": ("团体标准", "Group standard"),
    "profile_word.1": ("一类", "Class 1"),
    "profile_word.2": ("二类", "Class 2"),
    "profile_word.yes": ("是 ✔", "Yes ✔"),
    "profile_word.no": ("否 ✘", "No ✘"),
    # --- read models and API routes (services/queries, services/api/routes) ---
    "noun.account": ("账户", "Account"),
    "noun.certificate": ("注销证明", "Certificate"),
    "noun.open_publicity": ("正在公示的公告", "An open publicity notice"),
    "noun.operator": ("运营管理机构", "Operator"),
    "message.objection_received": ("异议已受理，我们将依法处理", "Your objection has been received"),
    "message.comment_received": (
        "意见已收到，答复将在意见处理完毕后公开",
        "Received; answers are published once every comment has been disposed of",
    ),
    "message.report_received": (
        "举报已受理。请妥善保存受理号和查询码，我们将为您保密",
        "Received. Keep the receipt and the secret; your identity is kept confidential",
    ),
    "history.superseded_by": ("被 {version} 替代", "superseded by {version}"),
    "reason.document_file_missing": ("缺少文件（multipart 字段 file）", "No file (multipart field `file`)"),
    "reason.procedure_unavailable": ("该辖区无此程序", "Not available in this jurisdiction"),
    "reason.unknown_state": ("未知状态：{state}", "Unknown state: {state}"),
    "reason.unknown_event": ("未知事件：{event}", "Unknown event: {event}"),
    "reason.date_order": ("结束日期早于开始日期", "end is before start"),
    "reason.range_too_long": ("日期范围不能超过十年", "The range may not exceed ten years"),
    "reason.verifier_exists": ("该机构已在本辖区备案", "Already filed here"),
    "reason.account_unknown": ("账户 #{account} 不在本辖区", "Account #{account} is not in this jurisdiction"),
    "reason.same_account": ("转出与转入账户相同", "From and to are the same account"),
    "reason.action_required": ("请指明操作：{actions}", "Name the action: {actions}"),
    "reason.prefect_not_configured": (
        "未配置 Prefect 服务地址（PREFECT_API_URL）",
        "No Prefect API is configured (PREFECT_API_URL)",
    ),
    "reason.incident_resolved": ("运行事件 #{id} 已解决，不能再确认或解决", "Incident #{id} is already resolved"),
    "reason.prefect_unavailable": ("无法连接 Prefect 服务：{error}", "The Prefect API is unreachable: {error}"),
    # --- Shanghai art. 17: uses of reductions by methodology class ---
    "reason.compliance_not_here": (
        "{jurisdiction_zh}的碳普惠减排量不能用于碳市场配额履约清缴",
        "{jurisdiction_en}'s reductions may not be used for ETS allowance compliance",
    ),
    "reason.compliance_needs_project": (
        "用于配额履约清缴须指明项目（仅{tiers_zh}方法学签发的减排量可用）{basis_zh}",
        "Retiring for allowance compliance names the project (only {tiers_en} reductions qualify){basis_en}",
    ),
    "reason.compliance_tier": (
        "该项目依据{tier_zh}方法学签发，不能用于配额履约清缴（仅{tiers_zh}）{basis_zh}",
        "The project's reductions were issued under a {tier_en} methodology: not for allowance compliance "
        "(only {tiers_en}){basis_en}",
    ),
    # --- Beijing revenue-use audits on demand (编制说明 4(二), 5 第五章) ---
    "reason.revenue_audit_not_here": (
        "{jurisdiction_zh}未实行收益使用审计", "{jurisdiction_en} has no revenue-use audits",
    ),
    "reason.revenue_audit_class_1_only": (
        "仅已登记的一类项目编制收益使用审计报告（北京编制说明 4(二)）",
        "Only registered class-1 projects file revenue-use audits (Beijing note 4(2))",
    ),
    "reason.revenue_audit_year_open": (
        "{year}年度尚未结束，项目开发方只能提交已结束年度的审计报告",
        "The year {year} has not ended: a developer files the audit of an ended year",
    ),
    "reason.revenue_audit_year_future": ("{year}年度尚未开始", "The year {year} has not begun"),
    "reason.revenue_audit_exists": (
        "{year}年度收益使用审计已有案件 #{case}", "The {year} revenue-use audit is already case #{case}",
    ),
    "reason.database_unreachable": ("无法连接数据库：{error}", "The database is unreachable: {error}"),
    "reason.database_not_migrated": (
        "数据库未迁移到最新版本（当前 {current}，应为 {head}）",
        "The database is not at the migration head (at {current}, head {head})",
    ),
    "reason.database_not_configured": (
        "未配置数据库地址（DATABASE_URL）",
        "No database is configured (DATABASE_URL)",
    ),
    # --- the applicant's material by type (profile `[documents]`) ---
    "doc_kind.project_design": ("项目设计文件", "Project design document"),
    "doc_kind.implementation_plan": (
        "组织实施方案（含公益性承诺、碳普惠收益管理方案）",
        "Implementation plan (public-benefit commitment, revenue management plan)",
    ),
    "doc_kind.legality_proof": ("合法性证明材料", "Proofs of legality"),
    "doc_kind.accounting_report": ("减排量核算报告", "Emission-reduction accounting report"),
    "doc_kind.calculation_sheet": (
        "减排量计算表（可审核计算过程）", "Calculation sheet (with reviewable calculations)"),
    "doc_kind.filing_application": ("核证减排量备案申请函和申请表", "Filing application letter and form"),
    "doc_kind.methodology_text": ("方法学文本", "Methodology text"),
    "doc_kind.development_proposal": ("方法学开发建议", "Methodology development proposal"),
    "doc_kind.monitoring_report": ("监测报告", "Monitoring report"),
    "doc_kind.supporting": ("其他支持性证明材料", "Other supporting evidence"),
    "doc_kind.other": ("其他材料", "Other material"),
    "reason.document_missing": ("缺少申请材料：{label_zh}{basis_zh}", "Missing document: {label_en}{basis_en}"),
    "reason.document_kind": (
        "材料类型“{given}”不在本申请的材料清单中，可选：{allowed_zh}",
        "“{given}” is not a document type of this application; choose one of: {allowed_en}",
    ),
    "reason.required_field": ("此项为必填", "This field is required"),
    "reason.choose_listed": ("请从列表中选择：{allowed_zh}", "Choose one of the listed options: {allowed_en}"),
    "reason.methodology_pick": (
        "请从登记簿中选择一个适用的方法学版本",
        "Choose an applicable methodology version from the registry",
    ),
    # scenario data intake (issue 17): the feed, each batch, and why a row is refused
    "noun.scenario": ("减排场景", "Scenario"),
    "noun.scenario_batch": ("数据批次", "Data batch"),
    "reason.scenario_feed_issuer": (
        "只有本辖区的经办、数据对接或审批人员以及场景登记主体可以签发数据报送凭证",
        "Only the jurisdiction's case officers, operators or approvers, or the scenario's owner, may issue its "
        "data credential",
    ),
    "reason.scenario_not_registered": (
        "场景尚未登记（当前状态：{status}），不能接入数据（上海办法第十三条：校验通过后接入）",
        "The scenario is not registered (status: {status}); its data is connected only after validation "
        "(Shanghai art. 13)",
    ),
    "reason.scenario_feed_token": ("缺少或无效的场景数据报送凭证", "No scenario data credential, or an unknown one"),
    "reason.scenario_feed_other": ("该凭证属于另一个场景", "This credential belongs to another scenario"),
    "reason.scenario_batch_id": (
        "批次编号须为 1–100 位字母、数字或 _ . -，以字母、数字或 _ 开头",
        "The batch id must be 1–100 letters, digits or _ . -, starting with a letter, a digit or _",
    ),
    "reason.scenario_business_date": ("业务日期须为 YYYY-MM-DD", "The business date must be YYYY-MM-DD"),
    "reason.scenario_business_date_future": ("业务日期 {day} 晚于今天（{today}）",
                                             "The business date {day} is after today ({today})"),
    "reason.scenario_record_count": ("记录数须为非负整数", "The record count must be a whole number, 0 or more"),
    "reason.scenario_sha256_format": ("SHA-256 须为 64 位十六进制数", "The SHA-256 must be 64 hexadecimal digits"),
    "reason.scenario_format": ("文件格式须为以下之一：{formats}", "The file format must be one of: {formats}"),
    "reason.scenario_file_missing": ("缺少文件（multipart 字段 file）", "No file (multipart field `file`)"),
    "reason.scenario_file_too_large": ("文件超过 {limit} 字节", "The file is larger than {limit} bytes"),
    "reason.scenario_sha256_mismatch": (
        "文件的 SHA-256 为 {actual}，与申报的 {declared} 不符（文件可能在传输中损坏，请重新发送）",
        "The file's SHA-256 is {actual}, not the declared {declared} (damaged in transfer? send it again)",
    ),
    "reason.scenario_count_mismatch": ("文件有 {actual} 条记录，申报为 {declared} 条",
                                       "The file has {actual} records; {declared} were declared"),
    "reason.scenario_batch_reused": (
        "批次编号 {batch_id} 已用于另一个文件（SHA-256 {sha256}）；新文件请使用新的批次编号",
        "Batch id {batch_id} was already used for another file (SHA-256 {sha256}); send a new file under a new "
        "batch id",
    ),
    "reason.scenario_no_quantification": (
        "该场景的方法学尚未以数据形式声明量化方法（活动类型、公式、参数），暂不能接收活动数据",
        "The scenario's methodology declares no quantification as data (activity types, formulas, parameters) "
        "yet, so activity records cannot be taken",
    ),
    "reason.scenario_file_unreadable": ("无法读取该 {format} 文件：{detail}",
                                        "The {format} file cannot be read: {detail}"),
    "reason.scenario_columns_missing": ("缺少列：{columns}", "Missing columns: {columns}"),
    "reason.scenario_columns_unexpected": (
        "存在未约定的列：{columns}（不得报送约定以外的数据，上海办法第二十二条）",
        "Undeclared columns: {columns} (nothing beyond the agreed data may be sent; Shanghai art. 22)",
    ),
    "reason.scenario_missing_field": ("必填字段为空", "A required field is empty"),
    "reason.scenario_bad_record_id": ("记录编号须为 1–64 位字母、数字或 _ . : -",
                                      "The record id must be 1–64 letters, digits or _ . : -"),
    "reason.scenario_bad_user_id": ("用户标识须为 1–64 位字母、数字或 _ . : -（假名）",
                                    "The user pseudonym must be 1–64 letters, digits or _ . : -"),
    "reason.scenario_pii_phone": ("疑似手机号码：须脱敏后报送（鄂尔多斯办法第十四条，上海办法第二十二条）",
                                  "Looks like a mobile number: data must be desensitised (Ordos art. 14, Shanghai "
                                  "art. 22)"),
    "reason.scenario_pii_id_card": ("疑似身份证号码：须脱敏后报送（鄂尔多斯办法第十四条，上海办法第二十二条）",
                                    "Looks like an identity-card number: data must be desensitised (Ordos art. 14, "
                                    "Shanghai art. 22)"),
    "reason.scenario_pii_email": ("疑似电子邮箱：须脱敏后报送（鄂尔多斯办法第十四条，上海办法第二十二条）",
                                  "Looks like an e-mail address: data must be desensitised (Ordos art. 14, Shanghai "
                                  "art. 22)"),
    "reason.scenario_unknown_activity": ("活动类型不是方法学声明的类型",
                                         "The activity type is not one the methodology declares"),
    "reason.scenario_bad_quantity": ("数量须为普通十进制数（如 12.5），且位数不超过该活动的精度范围",
                                     "The quantity must be a plain decimal number (e.g. 12.5) within the digits the "
                                     "activity allows"),
    "reason.scenario_negative_quantity": ("数量为负数", "The quantity is negative"),
    "reason.scenario_too_precise": ("数量的小数位数超过该活动计量单位的精度",
                                    "The quantity has more decimal places than the activity's unit allows"),
    "reason.scenario_bad_date": ("日期无效（须为 YYYY-MM-DD，且不早于 1990-01-01）",
                                 "The date is not valid (YYYY-MM-DD, not before 1990-01-01)"),
    "reason.scenario_future_date": ("日期晚于批次的业务日期", "The date is after the batch's business date"),
    "reason.scenario_duplicate_in_batch": ("记录编号在本批次中已出现（保留首次出现的记录）",
                                           "The record id occurs earlier in this batch (the first is kept)"),
    "reason.scenario_duplicate_across_batches": ("记录编号已在此前的批次中被接收",
                                                 "The record id was already accepted in an earlier batch"),
    "reason.scenario_bad_status": ("授权状态须为 granted（授权）或 withdrawn（撤回）",
                                   "The consent status must be granted or withdrawn"),
    "scenario_batch_status.accepted": ("全部接收", "Accepted"),
    "scenario_batch_status.partly_accepted": ("部分接收", "Partly accepted"),
    "scenario_batch_status.rejected": ("全部拒收", "All rows refused"),
    "scenario_kind.records": ("活动数据", "Activity records"),
    "scenario_kind.consents": ("用户授权", "Consent feed"),
    "scenario_column.row_no": ("行号", "Row"),
    "scenario_column.record_id": ("记录编号", "Record id"),
    "scenario_column.user_id": ("用户标识（假名）", "User pseudonym"),
    "scenario_column.activity_type": ("活动类型", "Activity type"),
    "scenario_column.quantity": ("数量", "Quantity"),
    "scenario_column.activity_date": ("活动日期", "Activity date"),
    "scenario_column.status": ("授权状态", "Consent status"),
    "scenario_column.effective_date": ("生效日期", "Effective date"),
    "scenario_column.reason_codes": ("原因代码", "Reason codes"),
    "scenario_column.reasons_zh": ("原因（中文）", "Reasons (Chinese)"),
    "scenario_column.reasons_en": ("原因（英文）", "Reasons (English)"),
}

# Pydantic error types -> zh/en templates (the English text comes from pydantic itself).
VALIDATION_ZH: dict[str, str] = {
    "missing": "缺少必填字段",
    "string_too_short": "内容过短（至少 {min_length} 个字符）",
    "string_too_long": "内容过长（最多 {max_length} 个字符）",
    "too_short": "至少需要 {min_length} 项",
    "too_long": "最多 {max_length} 项",
    "greater_than": "必须大于 {gt}",
    "greater_than_equal": "必须大于或等于 {ge}",
    "less_than": "必须小于 {lt}",
    "less_than_equal": "必须小于或等于 {le}",
    "int_parsing": "必须是整数",
    "int_type": "必须是整数",
    "decimal_parsing": "必须是数字",
    "decimal_type": "必须是数字",
    "decimal_max_places": "小数位数过多（最多 {decimal_places} 位）",
    "float_parsing": "必须是数字",
    "bool_parsing": "必须是布尔值",
    "bool_type": "必须是布尔值",
    "date_from_datetime_parsing": "日期格式应为 YYYY-MM-DD",
    "date_parsing": "日期格式应为 YYYY-MM-DD",
    "date_type": "日期格式应为 YYYY-MM-DD",
    "literal_error": "取值必须为：{expected}",
    "enum": "取值必须为：{expected}",
    "string_type": "必须是文本",
    "dict_type": "必须是对象",
    "list_type": "必须是列表",
    "model_type": "必须是对象",
    "model_attributes_type": "必须是对象",
    "extra_forbidden": "不允许的字段",
    "json_invalid": "JSON 格式错误",
    "json_type": "JSON 格式错误",
    "string_pattern_mismatch": "格式不正确",
    "value_error": "{error}",
    "assertion_error": "{error}",
    "int_from_float": "必须是整数",
    "uuid_parsing": "格式不正确",
    "too_many_members": "内容过多",
    "finite_number": "必须是有限数值",
    "string_unicode": "文本编码无效",
    "decimal_whole_digits": "整数位数过多",
    "date_from_datetime_inexact": "日期格式应为 YYYY-MM-DD",
    "datetime_parsing": "日期时间格式不正确",
    "url_parsing": "网址格式不正确",
    "int_type_overflow": "整数过大",
    "union_tag_invalid": "取值无效",
    "is_instance_of": "类型不正确",
}


@dataclass(frozen=True)
class Reason:
    """One reason a request failed, in both languages."""

    code: str
    zh: str
    en: str
    field: str | None = None
    params: dict[str, Any] = dc_field(default_factory=dict, compare=False)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.code, "zh": self.zh, "en": self.en}
        if self.field:
            out["field"] = self.field
        return out


class Text(NamedTuple):
    """A catalogue entry filled in: the Chinese and the English."""

    zh: str
    en: str

    def said_in(self, lang: str) -> str:
        return self.en if lang == "en" else self.zh


def label(key: str) -> dict[str, str]:
    zh, en = CATALOGUE.get(key, (key, key))
    return {"zh": zh, "en": en}


def text(key: str, /, **params: Any) -> Text:
    """The entry `key` (which must exist) with its `str.format` fields filled in."""
    zh, en = CATALOGUE[key]
    return Text(zh.format(**params), en.format(**params))


def joined(names: Iterable[tuple[str, str]], sep: str = "sep.list") -> Text:
    """(zh, en) pairs as one list in each language, each with its own separator."""
    pairs = list(names)
    zh_sep, en_sep = CATALOGUE[sep]
    return Text(zh_sep.join(zh for zh, _ in pairs), en_sep.join(en for _, en in pairs))


def reason(key: str, /, field: str | None = None, **params: Any) -> Reason:
    """The refusal `reason.<key>`; `key` is a code, or `code.variant` (the reason's code is `code`)."""
    zh, en = CATALOGUE[f"reason.{key}"]
    return Reason(code=key.split(".", 1)[0], zh=zh.format(**params), en=en.format(**params), field=field,
                  params=params)


def role_required(*roles: str) -> Reason:
    """403: the action needs one of `roles` in the jurisdiction (named in Chinese, coded in English)."""
    names = joined((label(f"role.{r}")["zh"], r) for r in roles)
    return reason("role_required", roles_zh=names.zh, roles_en=names.en)


class BilingualError(ValueError):
    """Raised by form validators: pydantic keeps the message, our 422 handler splits it into zh/en."""

    SEPARATOR = " | "

    def __init__(self, zh: str, en: str) -> None:
        super().__init__(f"{zh}{self.SEPARATOR}{en}")

    @classmethod
    def of(cls, key: str, /, **params: Any) -> BilingualError:
        """The error worded by the catalogue's `form.<key>`."""
        return cls(*text(f"form.{key}", **params))
