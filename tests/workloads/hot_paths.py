"""A process whose time goes to one helper called from two callers: main runs
parent_share_major for three quarters of the time and parent_share_minor for one quarter,
and both spend it in spin(). The self lists see only spin; the hot call paths must show
"spin < parent_share_major" (75%) and "spin < parent_share_minor" (25%).

Usage: hot_paths.py SECONDS"""
from _common import main_for


def spin(n):
    x = 0
    for i in range(n):
        x += i * i
    return x


def parent_share_major():
    spin(30000)


def parent_share_minor():
    spin(10000)


def main():
    main_for(parent_share_major, parent_share_minor)


if __name__ == "__main__":
    main()
