"""One installation opened for work: settings, database and the services over it.

Both clients start here: the window and the ``yichuang`` command call
:func:`open_workstation` and then only talk to the services it holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from app.config import DEMO_SITE_CODE, Settings, load_settings, resources_dir
from app.domain.case import Clerk
from app.services.accounts import AccountService, ClerkSession
from app.services.calendar import CalendarService
from app.services.cases import CaseService
from app.services.catalogue import CatalogueService
from app.services.printing import DocumentService
from app.storage.blobs import BlobStore
from app.storage.db import Database, open_database

DEMO_CATALOGUE = Path("catalogue") / "demo.json"


@dataclass
class Workstation:
    settings: Settings
    db: Database
    catalogue: CatalogueService
    calendar: CalendarService
    accounts: AccountService
    cases: CaseService
    documents: DocumentService

    def clerk(self, session: ClerkSession) -> Clerk:
        """The event context for a logged-in clerk at this terminal and window."""
        s = self.settings
        return Clerk(session.user_id, session.display_name, s.site_code, s.terminal, s.window)

    def close(self) -> None:
        self.db.dispose()


def open_workstation(directory: Path | None = None, *, seed: bool = True) -> Workstation:
    """Load settings, open and migrate the database, and on first start seed it.

    Seeding puts in what a standalone install needs to be usable at once: the working
    calendar from the maintained package, the default administrator, the demo catalogue.
    """
    settings = load_settings(directory)
    db = open_database(settings.database_path)
    catalogue = CatalogueService(db)
    calendar = CalendarService(db)
    accounts = AccountService(db)
    refused = DEMO_SITE_CODE if not settings.standalone else None
    cases = CaseService(db, catalogue, calendar, refused_site=refused)
    documents = DocumentService(settings, db, catalogue, cases,
                                BlobStore(settings.data_dir / "blobs"))
    station = Workstation(settings, db, catalogue, calendar, accounts, cases, documents)
    if seed:
        calendar.seed_from_package()
        accounts.ensure_default_admin()
        demo = resources_dir() / DEMO_CATALOGUE
        if not catalogue.has_catalogue() and demo.exists():
            catalogue.import_file(demo)
    return station
