use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{symlink, MetadataExt};

use super::*;

/// A `--proc-root` fixture: nginx (pid 123) holds 90412 and a file, sshd
/// (pid 456) holds 88231 and 90412 too (forked), `self` is not a pid.
fn fixture() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let process = |pid: &str, comm: &str, fds: &[(&str, &str)]| {
        let fd_dir = dir.path().join(pid).join("fd");
        std::fs::create_dir_all(&fd_dir).unwrap();
        std::fs::write(dir.path().join(pid).join("comm"), comm).unwrap();
        for (fd, target) in fds {
            symlink(target, fd_dir.join(fd)).unwrap();
        }
    };
    process(
        "123",
        "nginx\n",
        &[("3", "/dev/null"), ("4", "socket:[90412]")],
    );
    process(
        "456",
        "sshd\n",
        &[("0", "socket:[88231]"), ("1", "socket:[90412]")],
    );
    process("self", "nope\n", &[("5", "socket:[70001]")]);
    dir
}

#[test]
fn the_walk_finds_each_inodes_process_under_proc_root() {
    let dir = fixture();
    let found = walk(dir.path(), &[90412, 88231, 70001, 0], MAX_FDS_VISITED);
    assert!(!found.cut_short);
    assert_eq!(
        found.owners[&88231],
        Owner {
            pid: 456,
            comm: b"sshd".to_vec()
        }
    );
    let holder = &found.owners[&90412];
    assert!(matches!(holder.pid, 123 | 456), "{holder:?}");
    assert!(
        !found.owners.contains_key(&70001),
        "`self` is not a process directory"
    );
    assert_eq!(found.owners.len(), 2);
}

#[test]
fn the_walk_stops_at_its_bound_and_says_so() {
    let dir = fixture();
    // Two process directories and their 4 fds are 6 visits: 3 is not enough
    // to find 88231 and 90412 whatever the order.
    let found = walk(dir.path(), &[90412, 88231], 3);
    assert!(found.cut_short);
    assert!(found.owners.len() < 2);
}

#[test]
fn no_inode_no_walk() {
    let found = walk(Path::new("/nonexistent"), &[0, 0], MAX_FDS_VISITED);
    assert!(found.owners.is_empty() && !found.cut_short);
}

/// A real socket of this test process: the walk over the real /proc finds
/// our own pid and name.
#[test]
fn a_real_connection_of_this_process_is_found_with_our_pid() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (_server, _) = listener.accept().unwrap();
    let link = format!("/proc/self/fd/{}", client.as_raw_fd());
    let inode = std::fs::metadata(&link).unwrap().ino() as u32;
    let found = walk(Path::new("/proc"), &[inode], usize::MAX);
    let owner = &found.owners[&inode];
    assert_eq!(owner.pid, std::process::id());
    let mut ours = std::fs::read("/proc/self/comm").unwrap();
    ours.retain(|&b| b != b'\n');
    assert_eq!(owner.comm, ours);
}

fn entry(remote: &str, inode: u32) -> SocketEntry {
    SocketEntry {
        local: "198.51.100.10:443".parse().unwrap(),
        remote: remote.parse().unwrap(),
        state: TcpState::Established,
        inode,
    }
}

#[test]
fn refresh_walks_at_most_once_a_second_per_address() {
    let dir = fixture();
    let mut owners = SocketOwners::new(Some(dir.path()));
    let dump = [entry("8.8.4.4:5000", 88231), entry("1.1.1.1:5000", 90412)];
    let ip: IpAddr = "8.8.4.4".parse().unwrap();
    let t0 = Instant::now();
    assert!(owners.refresh(ip, &dump, t0));
    assert_eq!(owners.owner(ip, 88231).map(|o| o.pid), Some(456));
    assert_eq!(owners.owner(ip, 90412), None, "another address's socket");
    assert!(!owners.refresh(ip, &dump, t0 + Duration::from_millis(900)));
    assert!(owners.refresh(ip, &dump, t0 + WALK_INTERVAL));
    // Another address walks at once.
    let other: IpAddr = "1.1.1.1".parse().unwrap();
    assert!(owners.refresh(other, &dump, t0 + WALK_INTERVAL));
    let holder = owners.owner(other, 90412).map(|o| o.pid);
    assert!(matches!(holder, Some(123 | 456)), "{holder:?}");
    assert_eq!(
        owners.owner(ip, 88231),
        None,
        "held for the address asked last"
    );
    assert_eq!(owners.walks, 3);
    owners.clear();
    assert!(owners.refresh(other, &dump, t0 + WALK_INTERVAL));
}
