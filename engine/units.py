"""Calendar and unit constants shared by every layer (DESIGN.md: days inside physics,
metres in files, millimetres in reports)."""

#: Days of the mean Julian year: rates per day become rates per year.
DAYS_PER_YEAR = 365.25
#: Days of the mean month, a twelfth of that year: lag times in months.
DAYS_PER_MONTH = DAYS_PER_YEAR / 12
#: Millimetres per metre, for reports and plots.
M_TO_MM = 1e3
