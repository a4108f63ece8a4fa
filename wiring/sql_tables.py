"""Import every module that defines SQL tables, so ``Base.metadata`` knows them all (``cityvitals db check``)."""

from cityvitals import acks as ack_tables  # noqa: F401
from cityvitals import sessions as session_tables  # noqa: F401
from cityvitals import tokens as token_tables  # noqa: F401
from cityvitals import users as user_tables  # noqa: F401
from cityvitals.areas import sql as area_tables  # noqa: F401
from cityvitals.dispatch import sql as dispatch_tables  # noqa: F401
from cityvitals.dispatch import webhook as outbox_table  # noqa: F401
from indicators import history as indicator_tables  # noqa: F401
