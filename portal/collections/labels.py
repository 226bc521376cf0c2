"""Display names of the collections vocabulary (translated)."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l

TIER_LABELS: dict[str, Any] = {
    "none": _l("未催缴"),
    "L1": _l("L1 友好提醒"),
    "L2": _l("L2 书面通知"),
    "L3": _l("L3 上门面谈"),
    "L4": _l("L4 调解/诉讼"),
}
REASON_LABELS: dict[str, Any] = {
    "forgot": _l("遗忘"),
    "dissatisfied": _l("不满"),
    "hardship": _l("困难"),
    "wilful": _l("恶意拒缴"),
}
STATUS_LABELS: dict[str, Any] = {
    "open": _l("催缴中"),
    "paused": _l("暂停"),
    "closed": _l("已结清"),
}
PAUSE_LABELS: dict[str, Any] = {
    "hold": _l("暂停催缴"),
    "plan": _l("分期执行中"),
    "promise": _l("承诺缴费"),
    "disputed": _l("余额均在异议中"),
}
CHANNEL_LABELS: dict[str, Any] = {
    "sms": _l("短信"),
    "wechat": _l("微信"),
    "phone": _l("电话"),
    "letter": _l("挂号信"),
    "posted": _l("张贴通知"),
    "visit": _l("上门"),
    "inbox": _l("站内信"),
}
OUTCOME_LABELS: dict[str, Any] = {
    "no_answer": _l("无人接听"),
    "promised": _l("承诺缴费"),
    "refused": _l("拒绝缴费"),
    "wrong_number": _l("号码错误"),
    "paid": _l("已缴费"),
    "complained": _l("投诉服务"),
    "delivered": _l("已送达"),
    "hardship": _l("说明困难"),
    "sent": _l("已发送"),
}
TASK_LABELS: dict[str, Any] = {
    "escalate": _l("升级建议"),
    "service_recovery": _l("服务补救"),
    "plan_offer": _l("商定分期"),
    "promise_due": _l("承诺到期回访"),
    "plan_missed": _l("分期未缴"),
}
TASK_STATUS_LABELS: dict[str, Any] = {
    "proposed": _l("待审批"),
    "approved": _l("已批准"),
    "declined": _l("未批准"),
    "open": _l("待办"),
    "done": _l("已完成"),
    "cancelled": _l("已取消"),
}
ACTION_LABELS: dict[str, Any] = {
    "reminder": _l("友好提醒（附缴费链接）"),
    "written_notice": _l("送达书面催缴通知"),
    "visit": _l("主管上门面谈"),
    "legal": _l("调解/诉讼（负责人批准）"),
    "service_recovery": _l("先解决服务问题"),
    "payment_plan": _l("商定分期计划"),
    "wait": _l("等待"),
}
PLAN_STATUS_LABELS: dict[str, Any] = {
    "proposed": _l("待业主确认"),
    "active": _l("执行中"),
    "completed": _l("已完成"),
    "broken": _l("已中止"),
    "cancelled": _l("已作废"),
}
SIGNAL_LABELS: dict[str, Any] = {
    "on_time_share": _l("按时缴费率"),
    "open_tickets": _l("未完成报修"),
    "overdue_ticket": _l("超时报修"),
    "common_area_ticket": _l("公共区域报修"),
    "low_rating": _l("低分评价"),
    "service_dispute": _l("服务异议"),
    "open_complaint": _l("未办结投诉"),
    "low_survey": _l("问卷低分"),
    "satisfaction": _l("满意度"),
    "complained": _l("投诉"),
    "hardship": _l("困难"),
    "plan_request": _l("申请分期"),
    "refused": _l("拒缴"),
    "no_response": _l("无回应"),
}
EVENT_LABELS: dict[str, Any] = {
    "opened": _l("立案"),
    "reopened": _l("再次欠费，重新打开"),
    "closed": _l("结清结案"),
    "tier": _l("催缴级别变更"),
    "reason": _l("确认欠费原因"),
    "stood_down": _l("服务异议，退回 L1"),
    "plan_proposed": _l("提出分期方案"),
    "plan_accepted": _l("业主接受分期"),
    "plan_missed": _l("分期未按时缴纳"),
    "plan_completed": _l("分期完成"),
    "task_done": _l("任务完成"),
    "hardship": _l("登记困难"),
}
# Other domains' values as the case page shows them.
OTHER_LABELS: dict[str, Any] = {
    "unpaid": _l("未缴"),
    "partial": _l("部分缴纳"),
    "paid": _l("已缴清"),
    "waived": _l("已减免"),
    "wechat": _l("微信"),
    "alipay": _l("支付宝"),
    "bank_transfer": _l("银行转账"),
    "cash": _l("现金"),
    "pos": _l("刷卡"),
    "auto_debit": _l("代扣"),
    "sandbox": _l("测试支付"),
    "submitted": _l("已提交"),
    "acknowledged": _l("已受理"),
    "assigned": _l("已派单"),
    "in_progress": _l("处理中"),
    "on_hold": _l("暂缓"),
    "resolved": _l("已解决"),
    "closed": _l("已关闭"),
    "reopened": _l("已重新打开"),
    "cancelled": _l("已取消"),
    "under_review": _l("核查中"),
    "proposed": _l("已答复"),
    "rejected": _l("业主未接受"),
    "escalated": _l("已升级调解"),
    "bill_line": _l("账单"),
    "spending": _l("支出"),
    "fee_standard": _l("收费标准"),
    "service": _l("服务"),
    "inbox": _l("站内信"),
    "sms": _l("短信"),
    "email": _l("邮件"),
    "letter": _l("信件"),
    "queued": _l("待发送"),
    "deferred": _l("延后发送"),
    "sending": _l("发送中"),
    "sent": _l("已发送"),
    "delivered": _l("已送达"),
    "failed": _l("失败"),
    "suppressed": _l("未发送"),
}
