# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# A package, so that test files with the same name in modules/ and module_utils/
# (test_release.py) import as different modules.
