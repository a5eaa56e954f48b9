"""Working days count out weekends and the bank holidays of England and Wales, as 10-working-day offers do."""

from datetime import date

from services.kit.workdays import add_working_days, bank_holidays, calendar_years, working_days_between


def test_the_next_working_day_is_one_and_a_weekend_is_none() -> None:
    friday = date(2025, 10, 3)
    assert working_days_between(friday, date(2025, 10, 4)) == 0  # Saturday
    assert working_days_between(friday, date(2025, 10, 6)) == 1  # Monday
    assert working_days_between(friday, friday) == 0
    assert working_days_between(friday, date(2025, 10, 1)) == 0


def test_easter_is_counted_out_of_ten_working_days() -> None:
    # Submitted on Thursday 17 April 2025: Good Friday (18th) and Easter Monday (21st) are not working days.
    submitted = date(2025, 4, 17)
    # The early May bank holiday (Monday 5 May) is skipped too: day 9 is Friday 2 May, day 10 Tuesday 6 May.
    assert add_working_days(submitted, 9) == date(2025, 5, 2)
    assert add_working_days(submitted, 10) == date(2025, 5, 6)
    assert working_days_between(submitted, date(2025, 5, 6)) == 10


def test_christmas_substitute_days_and_one_off_holidays_are_in_the_calendar() -> None:
    holidays = bank_holidays()
    assert {date(2020, 12, 28), date(2022, 9, 19), date(2023, 5, 8), date(2022, 6, 3)} <= holidays
    assert all(holiday.weekday() < 5 for holiday in holidays)
    # Christmas 2021 fell on a Saturday: Monday 27 and Tuesday 28 December were the bank holidays.
    assert working_days_between(date(2021, 12, 24), date(2021, 12, 29)) == 1


def test_counting_and_adding_agree_across_the_whole_calendar() -> None:
    years = calendar_years()
    assert years.start <= 2019 and years.stop > 2027
    start = date(years.start, 1, 1)
    for days in (1, 5, 10, 40, 250):
        assert working_days_between(start, add_working_days(start, days)) == days
