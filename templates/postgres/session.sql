-- Every partctl session reads and writes bounds in UTC and ISO format.
SET TimeZone = 'UTC';
SET DateStyle = 'ISO, YMD';
SET IntervalStyle = 'postgres';
SET standard_conforming_strings = on;
