"""One installation opened for work: settings, database and the services over it.

Both clients start here: the window and the ``yichuang`` command call
:func:`open_workstation` and then only talk to the services it holds.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from app.config import DEMO_SITE_CODE, ConfigError, Settings, load_settings, resources_dir
from app.domain.case import Clerk
from app.notifications import changes_of
from app.services.accounts import AccountService, ClerkSession
from app.services.calendar import CalendarService
from app.services.case_list import CaseList
from app.services.cases import CaseService
from app.services.catalogue import CatalogueService
from app.services.consultations import ConsultationService
from app.services.credit import CreditService
from app.services.deadlines import DeadlineRecompute
from app.services.drafts import DraftStore
from app.services.integrity import IntegrityService
from app.services.pickup import PickupDesk
from app.services.printing import DocumentService, SystemSpooler
from app.services.queue import QueueService
from app.services.queue_manual import ManualCalls
from app.services.queue_stats import QueueStatistics
from app.services.queue_store import SqliteQueueStore
from app.services.ratings import RatingService
from app.services.scans import CaseScans
from app.storage.anchor import AnchorFile
from app.storage.blobs import BlobStore
from app.storage.db import Database, open_database
from app.storage.files import InUse, private_tree, secure_data_dir
from app.storage.install_meta import meta_get, meta_set

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
    integrity: IntegrityService
    deadlines: DeadlineRecompute
    case_list: CaseList
    credit: CreditService
    consultations: ConsultationService
    pickup: PickupDesk
    drafts: DraftStore
    in_use: InUse | None = None
    # The local queue authority, over this database (built here: no caller passes it).
    queue: QueueService = field(init=False)
    # 好差评 of the tickets this queue finished (the evaluation screens' sink).
    ratings: RatingService = field(init=False)
    # 手工叫号 while the queue is out of reach, kept for the figures and the county.
    manual_calls: ManualCalls = field(init=False)
    # 排队统计 of a day, from the queue's events and ratings.
    queue_stats: QueueStatistics = field(init=False)
    # The cases' scanned materials (扫描件), in the same blob store as printed documents.
    scans: CaseScans = field(init=False)

    def __post_init__(self) -> None:
        self.queue = QueueService(SqliteQueueStore(self.db), changes_of(self.db))
        self.ratings = RatingService(self.db, changes_of(self.db))
        self.manual_calls = ManualCalls(self.db, changes_of(self.db))
        self.queue_stats = QueueStatistics(self.db, self.queue, self.ratings, self.manual_calls)
        self.scans = CaseScans(self.cases, self.catalogue,
                               BlobStore(self.settings.data_dir / "blobs"))

    def clerk(self, session: ClerkSession) -> Clerk:
        """The event context for a logged-in clerk at this terminal and window."""
        s = self.settings
        return Clerk(session.user_id, session.display_name, s.site_code, s.terminal, s.window,
                     str(session.role))

    def close(self) -> None:
        self.db.dispose()
        if self.in_use is not None:
            self.in_use.release()


def window_for(text: str) -> str:
    """A window number given on the command line, checked as settings.toml's is."""
    from app.domain.queue import WINDOW_RE

    window = text.strip()
    if not WINDOW_RE.fullmatch(window):
        raise ConfigError(f"窗口号“{window[:20]}”无效：应为1至8位字母、数字或汉字（--window）")
    return window


def open_workstation(directory: Path | None = None, *, seed: bool = True, check: bool = True,
                     adopt: bool = True, system_spooler: SystemSpooler | None = None,
                     window: str | None = None) -> Workstation:
    """Load settings, open and migrate the database, check it, and on first start seed it.

    ``check`` compares the database with the anchors kept beside it before anything
    else happens (IntegrityAlarm when it lacks what they witnessed); only the commands
    that inspect or repair a damaged installation open it with ``check=False``, and the
    read-only inspections with ``adopt=False`` (they never write to the anchors).
    Seeding happens once, at the first start: the working calendar from the maintained
    package, the default administrator, the demo catalogue. Later starts only read.

    ``window`` overrides ``[terminal] window`` for this process: one PC, one install,
    a workbench for each of its windows (``yichuang --window 2``).
    """
    settings = load_settings(directory)
    # The install's own window (settings.toml) inherits the terminal's draft from before
    # drafts were per window; another window never does.
    own_window = window is None or window_for(window) == settings.window
    if window is not None:
        settings = replace(settings, window=window_for(window))
    secure_data_dir(settings.data_dir, settings.database_path)
    try:
        in_use: InUse | None = InUse(settings.data_dir)
    except OSError:
        in_use = None   # a read-only or odd file system: opening the database says more
    try:
        station = _open(settings, check=check, adopt=adopt, system_spooler=system_spooler,
                        own_window=own_window)
    except BaseException:
        if in_use is not None:
            in_use.release()
        raise
    station.in_use = in_use
    if seed and check:   # never into a database that is being inspected or repaired
        try:
            _seed_once(station, first_start=station.integrity.began)
        except BaseException:
            station.close()
            raise
    return station


def _open(settings: Settings, *, check: bool, adopt: bool,
          system_spooler: SystemSpooler | None, own_window: bool = True) -> Workstation:
    db = open_database(settings.database_path)
    integrity = IntegrityService(db, AnchorFile(settings.data_dir))
    try:
        if check:
            integrity.start(site=settings.site_code, terminal=settings.terminal, adopt=adopt)
            if integrity.began:
                # First start of this version on an older install: its archive was 0644.
                private_tree(settings.data_dir / "blobs")
    except BaseException:
        db.dispose()
        raise
    catalogue = CatalogueService(db)
    calendar = CalendarService(db)
    accounts = AccountService(db)
    refused = DEMO_SITE_CODE if not settings.standalone else None
    credit = CreditService(db)
    cases = CaseService(db, catalogue, calendar, integrity, refused_site=refused,
                        notices=settings.notices, credit=credit)
    documents = DocumentService(settings, db, catalogue, cases,
                                BlobStore(settings.data_dir / "blobs"), integrity.witness,
                                system_spooler=system_spooler)
    deadlines = DeadlineRecompute(db, catalogue, calendar,
                                  lambda rows: integrity.witness.record(events=rows))
    case_list = CaseList(db, calendar, settings.yellow_warning_days)
    return Workstation(settings, db, catalogue, calendar, accounts, cases, documents,
                       integrity, deadlines, case_list, credit,
                       ConsultationService(db, catalogue), PickupDesk(db, cases),
                       DraftStore(settings.data_dir, settings.terminal, settings.window,
                                  adopt_legacy=own_window))


def _seed_once(station: Workstation, *, first_start: bool) -> None:
    """What a standalone install needs to be usable at once, written at its first start;
    afterwards only when the calendar package learned a new year (rare).

    The default administrator (admin/123456, changed at first login) is created only on
    the installation's very first start — never again into an emptied database, where it
    would hand the installation to whoever knows the default password.
    """
    import chinese_calendar

    package = f"chinesecalendar {chinese_calendar.__version__}"
    with station.db.read() as session:
        seeded, calendar_package = meta_get(session, "seeded"), meta_get(session, "calendar_package")
    if seeded and calendar_package == package:
        return
    station.calendar.seed_from_package()
    if not seeded:
        if first_start:
            station.accounts.ensure_default_admin()
        demo = resources_dir() / DEMO_CATALOGUE
        if not station.catalogue.has_catalogue() and demo.exists():
            station.catalogue.import_file(demo)
    with station.db.write() as session:
        meta_set(session, "seeded", "yes")
        meta_set(session, "calendar_package", package)
