"""The portal's words in English and Persian, and how numbers and dates are written for each reader.

One table, keyed by message id: a missing Persian text falls back to English rather than to a
blank, so a page is never silently empty. Persian pages are ``lang="fa" dir="rtl"``; names that
come from quotas/ keep their own direction through ``<bdi>`` in the templates.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from dctenant.domain import resources
from dctenant.render import calendars

LANGS = ("en", "fa")
CALENDARS = (calendars.GREGORIAN, calendars.JALALI)

TEXT: dict[str, tuple[str, str]] = {
    "title": ("dctenant portal", "درگاه dctenant"),
    "login": ("Log in", "ورود"),
    "login.intro": ("Paste your dctenant token (dct_…). It is sent once in this form and never kept in the browser.",
                    "توکن dctenant خود را (dct_…) اینجا بچسبانید. "
                    "فقط یک بار با این فرم فرستاده می‌شود و در مرورگر نمی‌ماند."),
    "login.wait": ("Too many failed logins from this address. Try again in {seconds} s.",
                   "تلاش‌های ناموفق ورود از این نشانی بیش از حد است. {seconds} ثانیه دیگر دوباره تلاش کنید."),
    "token": ("Token", "توکن"),
    "logout": ("Log out", "خروج"),
    "prefs": ("Display", "نمایش"),
    "lang": ("Language", "زبان"),
    "calendar": ("Calendar", "تقویم"),
    "gregorian": ("Gregorian", "میلادی"),
    "jalali": ("Solar Hijri (Jalali)", "هجری شمسی"),
    "digits": ("Persian digits", "ارقام فارسی"),
    "save": ("Save", "ذخیره"),
    "signed.in": ("Signed in as", "واردشده با"),
    "role.tenant": ("tenant", "مستأجر"),
    "role.staff": ("staff", "کارکنان"),
    "role.auditor": ("auditor (read-only)", "حسابرس (فقط خواندنی)"),
    "tenant.page": ("Tenant", "مستأجر"),
    "licence": ("Licence", "پروانه"),
    "licence.number": ("Number", "شماره"),
    "licence.state": ("State", "وضعیت"),
    "licence.expires": ("Expires", "انقضا"),
    "licence.days": ("Days left", "روزهای باقی‌مانده"),
    "envelope": ("Envelope per pool", "سهم در هر استخر"),
    "why": ("Why this envelope", "چرا این سهم"),
    "pool": ("Pool", "استخر"),
    "resource": ("Resource", "منبع"),
    "envelope.col": ("Envelope", "سهم"),
    "staff.ns": ("Staff namespaces", "فضاهای نام کارکنان"),
    "self.ns": ("Self-service", "سلف‌سرویس"),
    "free": ("Free", "آزاد"),
    "used": ("Used", "مصرف"),
    "usage": ("Usage against the envelope", "مصرف در برابر سهم"),
    "usage.none": ("Usage is unknown: this service was started without --prometheus.",
                   "مصرف نامعلوم است: سرویس بدون ‎--prometheus‎ اجرا شده است."),
    "unknown": ("unknown", "نامعلوم"),
    "namespaces": ("Namespaces", "فضاهای نام"),
    "name": ("Name", "نام"),
    "quota": ("Quota", "سهمیه"),
    "by": ("Provisioned by", "ایجادکننده"),
    "state": ("State", "وضعیت"),
    "create": ("Create a namespace", "ایجاد فضای نام"),
    "create.in": ("Create in pool", "ایجاد در استخر"),
    "fits": ("Still free for self-service", "هنوز آزاد برای سلف‌سرویس"),
    "check": ("Check", "بررسی"),
    "check.ok": ("It fits.", "جا می‌شود."),
    "submit.create": ("Create", "ایجاد"),
    "resize": ("Resize", "تغییر اندازه"),
    "delete": ("Delete", "حذف"),
    "force": ("even if it holds pods or volumes", "حتی اگر پاد یا حجم دارد"),
    "requests": ("Increase requests", "درخواست‌های افزایش"),
    "request.new": ("Ask for more", "درخواست بیشتر"),
    "mode": ("Mode", "روش"),
    "mode.add": ("add to the demand", "افزودن به تقاضا"),
    "mode.to": ("set the demand to", "تعیین تقاضا به"),
    "reason": ("Reason", "دلیل"),
    "submit.request": ("File the request", "ثبت درخواست"),
    "created": ("Filed", "ثبت"),
    "decided": ("Decided", "تصمیم"),
    "amounts": ("Amounts", "مقادیر"),
    "none": ("None.", "هیچ."),
    "staff.page": ("Staff", "کارکنان"),
    "pending": ("Pending requests", "درخواست‌های در انتظار"),
    "approve": ("Approve", "تأیید"),
    "reject": ("Reject", "رد"),
    "pools": ("Pools: capacity and allocation", "استخرها: ظرفیت و تخصیص"),
    "capacity": ("Capacity", "ظرفیت"),
    "reserve": ("Reserve", "ذخیره"),
    "allocatable": ("Allocatable", "قابل تخصیص"),
    "allocated": ("Allocated", "تخصیص‌یافته"),
    "tenants": ("Tenants", "مستأجران"),
    "audit.page": ("Audit", "حسابرسی"),
    "reports": ("Reports", "گزارش‌ها"),
    "report": ("Report", "گزارش"),
    "period": ("Period", "دوره"),
    "format": ("Format", "قالب"),
    "show": ("Show", "نمایش"),
    "download": ("Download", "دریافت"),
    "ledger": ("Ledger", "دفتر رویدادها"),
    "kind": ("Kind", "نوع"),
    "any": ("any", "همه"),
    "since": ("From (day)", "از (روز)"),
    "until": ("Until (day, exclusive)", "تا (روز، بدون خودش)"),
    "filter": ("Filter", "پالایش"),
    "seq": ("Seq", "شماره"),
    "at": ("At", "زمان"),
    "actor": ("Actor", "کنشگر"),
    "subject": ("Subject", "موضوع"),
    "more": ("Later events", "رویدادهای بعدی"),
    "verify": ("Verification", "راستی‌آزمایی"),
    "verify.run": ("Verify the ledger now", "راستی‌آزمایی دفتر"),
    "checkpoint": ("Latest signed checkpoint", "آخرین نقطه‌ی بازرسی امضاشده"),
    "checkpoint.none": ("The ledger holds no signed checkpoint yet.", "دفتر هنوز نقطه‌ی بازرسی امضاشده ندارد."),
    "proof": ("Inclusion proof of an event", "اثبات گنجاندن یک رویداد"),
    "event": ("Event", "رویداد"),
    "prove": ("Prove", "اثبات"),
    "error": ("Refused", "رد شد"),
    "forbidden": ("You may not see this page.", "اجازه‌ی دیدن این صفحه را ندارید."),
    "notfound": ("No such page.", "چنین صفحه‌ای نیست."),
    "done.created": ("Namespace created", "فضای نام ایجاد شد"),
    "done.resized": ("Namespace resized", "اندازه‌ی فضای نام تغییر کرد"),
    "done.deleted": ("Namespace deleted", "فضای نام حذف شد"),
    "done.requested": ("Request filed", "درخواست ثبت شد"),
    "done.approved": ("Request approved", "درخواست تأیید شد"),
    "done.rejected": ("Request rejected", "درخواست رد شد"),
    "done.saved": ("Preferences saved", "تنظیمات ذخیره شد"),
    "today": ("Today", "امروز"),
    "chart": ("Envelope, held and used", "سهم، رزروشده و مصرف"),
    "tenant.pick": ("Open a tenant", "باز کردن یک مستأجر"),
    "open": ("Open", "باز کن"),
    "runway": ("Runway: when demand exceeds allocatable", "مدت باقی‌مانده: تقاضا کی از ظرفیت قابل تخصیص می‌گذرد"),
    "runway.intro": ("The served tenants' total demand, fitted to the ledger's recorded plans (forecast --record) "
                     "and today's plan; the interval holds 80 % of the trend's likely course.",
                     "مجموع تقاضای مستأجران فعال، برازش‌شده بر برنامه‌های ثبت‌شده در دفتر رویدادها "
                     "(forecast --record) و برنامه‌ی امروز؛ بازه ۸۰٪ مسیر محتمل روند را در بر دارد."),
    "runway.demand": ("Demand today", "تقاضای امروز"),
    "runway.day": ("Exceeds allocatable on", "گذر از قابل تخصیص در"),
    "runway.interval": ("Interval (80 %)", "بازه (۸۰٪)"),
    "runway.points": ("Daily points", "نقاط روزانه"),
    "runway.never": ("not within the horizon of {days} days", "نه در افق {days} روزه"),
    "runway.beyond": ("beyond the horizon", "فراتر از افق"),
    "runway.short": ("too little history: {points} daily point(s); a forecast needs at least {min}",
                     "سابقه‌ی ناکافی: {points} نقطه‌ی روزانه؛ پیش‌بینی دست‌کم {min} نقطه لازم دارد"),
    "runway.unknown": ("Runway is unknown: the ledger could not be read.",
                       "مدت باقی‌مانده نامعلوم است: دفتر رویدادها خوانده نشد."),
}


def text(key: str, lang: str) -> str:
    pair = TEXT.get(key)
    if pair is None:
        return key
    return pair[1] if lang == "fa" and pair[1] else pair[0]


@dataclass(frozen=True, kw_only=True)
class Reader:
    """How one user reads: language, calendar, digits; the templates format through it."""

    lang: str = "en"
    calendar: str = calendars.GREGORIAN
    digits: bool = False

    @property
    def dir(self) -> str:
        return "rtl" if self.lang == "fa" else "ltr"

    def t(self, key: str) -> str:
        return text(key, self.lang)

    def tf(self, key: str, **values: object) -> str:
        """The text of ``key`` with its ``{name}`` places filled (numbers in the reader's digits)."""
        return self.t(key).format(**{k: self.num(v) for k, v in values.items()})

    def num(self, value: object) -> str:
        shown = str(value)
        return calendars.persian_digits(shown) if self.digits else shown

    def day(self, value: dt.date | str | None) -> str:
        if value is None:
            return ""
        day = dt.date.fromisoformat(value[:10]) if isinstance(value, str) else value
        return calendars.format_date(day, calendar=self.calendar, digits=self.digits)

    def time(self, value: dt.datetime | str | None) -> str:
        if value is None:
            return ""
        at = dt.datetime.fromisoformat(value) if isinstance(value, str) else value
        return calendars.format_time(at, calendar=self.calendar, digits=self.digits)

    def quantity(self, key: str, value: Decimal | str) -> str:
        """An exact quantity as ``quotas/`` spells it (``1Gi``), for form fields: never Persian digits."""
        return resources.format_amount(key, Decimal(value))

    def amount(self, key: str, value: Decimal | str | None) -> str:
        """A quantity for people (``12``, ``10Gi``); None is the word "unknown", never zero."""
        if value is None:
            return self.t("unknown")
        return self.num(resources.humanize(key, Decimal(value)))
