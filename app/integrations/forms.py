"""Forms for integrations and status mappings."""

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_babel import lazy_gettext as _l
import re

from wtforms import BooleanField, IntegerField, PasswordField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, NumberRange, Optional, URL, ValidationError

from app.integrations.models import DEFAULT_WHEN_PLATFORM_CHANGED, DIRECTIONS, MAPPING_DIRECTIONS, WHEN_PLATFORM_CHANGED
from app.settings.services import status_defs


def _when_platform_changed() -> SelectField:
    return SelectField(_l("When the platform changed the order too"), choices=list(WHEN_PLATFORM_CHANGED.items()),
                       default=DEFAULT_WHEN_PLATFORM_CHANGED,
                       description=_l("A push finds the order in a state nobody set in Kontor (changed in the "
                                   "shop's back office, by the buyer or the platform)."))


class _OrderImport:
    """What the first order import fetches, and where new orders start."""

    import_days = IntegerField(_l("Days of orders to fetch on first connect"), default=7,
                               validators=[Optional(), NumberRange(min=1, max=60)],
                               description=_l("The first import fetches the orders changed in these last days (1 to 60)."))
    initial_status = SelectField(_l("Status of new orders"), validate_choice=False,
                                 description=_l("Used when no pull mapping matches the platform's state."))

    def _order_import(self) -> dict:
        chosen = {"import_days": self.import_days.data or 7}
        if self.initial_status.data:
            chosen["initial_status"] = self.initial_status.data
        return chosen


class PrestaShopForm(_OrderImport, FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    shop_url = StringField(_l("Shop URL"), validators=[DataRequired(), URL(require_tld=False)],
                           description=_l("The shop's address, e.g. https://shop.example.com"))
    api_key = PasswordField(_l("Webservice key"), validators=[Optional(), Length(max=100)],
                            description=_l("PrestaShop > Advanced parameters > Webservice. Leave empty to keep the stored key; "
                                        "not needed when Kontor uses the shop only through its database."))
    db_dsn = PasswordField(_l("Shop database (DSN)"), validators=[Optional(), Length(max=500)],
                           description=_l("mysql://user:password@host:3306/database, for availability written straight into "
                                       "the shop's database. Leave empty to keep the stored one."))
    language_id = IntegerField(_l("Language id for state names"), default=1, validators=[NumberRange(min=1)])
    send_email = BooleanField(_l("Send e-mail to the customer on status change (sendemail=1)"))
    tracking_email = BooleanField(_l("E-mail the customer when the tracking number is set (sendemail=1)"))
    when_platform_changed = _when_platform_changed()

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        _with_statuses(self)

    def settings(self) -> dict:
        return {"shop_url": self.shop_url.data.strip().rstrip("/"), "language_id": self.language_id.data,
                "send_email": bool(self.send_email.data), "tracking_email": bool(self.tracking_email.data),
                "when_platform_changed": self.when_platform_changed.data, **self._order_import()}

    def secrets(self) -> dict:
        return {"api_key": (self.api_key.data or "").strip(), "db_dsn": (self.db_dsn.data or "").strip()}


class CarrierTableField(TextAreaField):
    """Kontor carrier names to Allegro carrier ids, one "name = ID" a line; `data` is the mapping."""

    LINE = re.compile(r"^\s*(?P<name>[^=]*?)\s*=\s*(?P<id>[A-Za-z0-9_]{1,60})\s*$")

    def _value(self) -> str:
        if isinstance(self.data, dict):
            return "\n".join(f"{name} = {carrier_id}" for name, carrier_id in self.data.items())
        return self.data or ""

    def process_formdata(self, valuelist: list) -> None:
        self.raw_text = valuelist[0] if valuelist else ""
        self.data, self.problems = {}, []
        for number, line in enumerate(self.raw_text.splitlines(), start=1):
            if not line.strip():
                continue
            match = self.LINE.match(line)
            if not match or not match["name"]:
                self.problems.append(f"Line {number}: write it as “Kontor carrier = ALLEGRO_ID”, "
                                     "e.g. “InPost = INPOST”.")
                continue
            self.data[" ".join(match["name"].split())] = match["id"].upper()

    def pre_validate(self, form) -> None:
        if getattr(self, "problems", None):
            self.data = self.raw_text  # shown again as typed, to be fixed
            raise ValidationError(" ".join(self.problems))


class AllegroForm(_OrderImport, FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    environment = SelectField(_l("Environment"), choices=[("production", "Production (allegro.pl)"),
                                                      ("sandbox", "Sandbox (allegrosandbox.pl)")])
    client_id = StringField(_l("Client ID"), validators=[DataRequired(), Length(max=120)])
    client_secret = PasswordField(_l("Client Secret"), validators=[Optional(), Length(max=200)],
                                  description=_l("From apps.developer.allegro.pl. Leave empty to keep the stored secret."))
    api_url = StringField(_l("API URL override"), validators=[Optional(), URL(require_tld=False)],
                          description=_l("Leave empty; only for a proxy or a test server."))
    auth_url = StringField(_l("Auth URL override"), validators=[Optional(), URL(require_tld=False)])
    carriers = CarrierTableField(
        "Carriers for tracking numbers", render_kw={"rows": 4},
        description="One a line: Kontor carrier = Allegro carrier id (GET /order/carriers). Other carriers are "
                    "matched to Allegro's list by name; a carrier that matches none goes as OTHER with its name.")
    when_platform_changed = _when_platform_changed()

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        _with_statuses(self)

    def settings(self) -> dict:
        return {"environment": self.environment.data, "client_id": self.client_id.data.strip(),
                "api_url": (self.api_url.data or "").strip(), "auth_url": (self.auth_url.data or "").strip(),
                "carriers": dict(self.carriers.data or {}), "when_platform_changed": self.when_platform_changed.data,
                **self._order_import()}

    def secrets(self) -> dict:
        return {"client_secret": (self.client_secret.data or "").strip()}


class _WebhookSecrets:
    """Two webhook secrets: deliveries signed with either are accepted while the platform rotates them."""

    webhook_secret = PasswordField(_l("Webhook secret"), validators=[Optional(), Length(max=200)],
                                   description=_l("Leave empty to keep the stored secret."))
    webhook_secret_previous = PasswordField(
        _l("Previous webhook secret"), validators=[Optional(), Length(max=200)],
        description=_l("During a rotation: the old secret, still accepted until you remove it."))
    forget_previous_secret = BooleanField(_l("Forget the previous webhook secret"))
    initial_status = SelectField(_l("Status of new orders"), validate_choice=False,
                                 description=_l("Used when no pull mapping matches the platform's state."))

    def _webhook_secrets(self) -> dict:
        secrets = {"webhook_secret": (self.webhook_secret.data or "").strip(),
                   "webhook_secret_previous": (self.webhook_secret_previous.data or "").strip()}
        if self.forget_previous_secret.data:
            secrets["webhook_secret_previous"] = None
        return secrets


def _with_statuses(form: FlaskForm) -> FlaskForm:
    form.initial_status.choices = [(s.code, s.name) for s in status_defs().values()]
    return form


class ShopifyForm(_WebhookSecrets, FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    shop_domain = StringField(_l("Shop domain"), validators=[DataRequired(), Length(max=255)],
                              description=_l("your-shop.myshopify.com"))
    api_token = PasswordField(_l("Admin API access token"), validators=[Optional(), Length(max=200)],
                              description=_l("From the custom app's API credentials (shpat_…). "
                                          "Leave empty to keep the stored token."))
    api_url = StringField(_l("API URL override"), validators=[Optional(), URL(require_tld=False)],
                          description=_l("Leave empty; only for a proxy or a test server."))

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        _with_statuses(self)

    def settings(self) -> dict:
        return {"shop_domain": self.shop_domain.data.strip().lower().removeprefix("https://").rstrip("/"),
                "api_url": (self.api_url.data or "").strip().rstrip("/"), "initial_status": self.initial_status.data}

    def secrets(self) -> dict:
        return {"api_token": (self.api_token.data or "").strip(), **self._webhook_secrets()}


class WooCommerceForm(_WebhookSecrets, FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    site_url = StringField(_l("Site URL"), validators=[DataRequired(), URL(require_tld=False)],
                           description=_l("The shop's address, e.g. https://shop.example.com"))
    consumer_key = PasswordField(_l("REST API consumer key"), validators=[Optional(), Length(max=200)],
                                 description=_l("WooCommerce > Settings > Advanced > REST API (ck_…). "
                                             "Leave empty to keep it."))
    consumer_secret = PasswordField(_l("REST API consumer secret"), validators=[Optional(), Length(max=200)],
                                    description=_l("cs_… Leave empty to keep the stored secret."))

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        _with_statuses(self)

    def settings(self) -> dict:
        return {"site_url": self.site_url.data.strip().rstrip("/"), "initial_status": self.initial_status.data}

    def secrets(self) -> dict:
        return {"consumer_key": (self.consumer_key.data or "").strip(),
                "consumer_secret": (self.consumer_secret.data or "").strip(), **self._webhook_secrets()}


class GenericForm(_WebhookSecrets, FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        _with_statuses(self)

    def settings(self) -> dict:
        return {"initial_status": self.initial_status.data}

    def secrets(self) -> dict:
        return self._webhook_secrets()


FORMS = {"prestashop": PrestaShopForm, "allegro": AllegroForm, "shopify": ShopifyForm,
         "woocommerce": WooCommerceForm, "generic": GenericForm}


class DirectionForm(FlaskForm):
    sync_direction = SelectField(_l("Sync direction"), choices=list(DIRECTIONS.items()))


class MappingForm(FlaskForm):
    local_status = SelectField(_l("Kontor status"), validators=[DataRequired()])
    platform_state_id = SelectField(_l("Platform state"), coerce=int, validators=[DataRequired()])
    direction = SelectField(_l("Direction"), choices=list(MAPPING_DIRECTIONS.items()), default="both")
