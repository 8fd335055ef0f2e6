"""An applicant registers the organisation it applies for (统一社会信用代码, GB 32100-2015)."""

from __future__ import annotations

from forms.common import USCC, Form, ShortText


class OrganisationRegistration(Form):
    uscc: USCC
    name: ShortText
