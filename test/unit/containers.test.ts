// The picker's "in container …" mark, from files recorded on real systems (status NSpid, cgroup lines).
import assert from 'node:assert/strict';
import { containerOf, containerText, parseCgroupContainer, parseNsPids } from '../../src/processes/containers';

const ID = '3f2a9c1d0b7e5a4c3b2a1908f7e6d5c4b3a29180f7e6d5c4b3a29180f7e6d5c4';

describe('processes: container marks', () => {
  it('reads NSpid and the container id of Docker, podman, containerd, CRI-O and Kubernetes cgroups', () => {
    assert.deepEqual(parseNsPids('Name:\tpython\nNSpid:\t4459\t1\n'), [4459, 1]);
    assert.deepEqual(parseNsPids('NSpid:\t812\n'), [812]);
    for (const [line, runtime] of [
      [`0::/system.slice/docker-${ID}.scope`, 'docker'],
      [`12:pids:/docker/${ID}`, 'docker'],
      [`0::/machine.slice/libpod-${ID}.scope/container`, 'libpod'],
      [`0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1.slice/cri-containerd-${ID}.scope`, 'containerd'],
      [`0::/kubepods.slice/kubepods-pod1.slice/crio-${ID}.scope`, 'crio'],
      [`11:memory:/kubepods/burstable/pod1234/${ID}`, 'kubepods'],
    ] as const) {
      assert.deepEqual(parseCgroupContainer(line), { id: ID.slice(0, 12), runtime }, line);
    }
    assert.deepEqual(parseCgroupContainer('0::/user.slice/user-0.slice/session-1.scope'), {});
  });

  it('marks a process in its own namespaces (unshare) or a container cgroup, not one that shares ours', () => {
    const ours = { pid: 'pid:[1]', mnt: 'mnt:[2]', net: 'net:[3]' };
    assert.equal(containerOf('NSpid:\t10\n', '0::/user.slice', ours, ours), undefined);
    const unshared = containerOf('NSpid:\t4459\t1\n', '0::/user.slice', { pid: 'pid:[9]', mnt: 'mnt:[8]', net: 'net:[3]' }, ours)!;
    assert.deepEqual(unshared, { namespaces: ['pid', 'mnt'], nsPid: 1 });
    assert.equal(containerText(unshared), 'in container (own pid, mnt namespaces; pid 1 there)');
    const docker = containerOf('NSpid:\t7000\t7\n', `0::/system.slice/docker-${ID}.scope`, { pid: 'pid:[9]', mnt: 'mnt:[8]', net: 'net:[7]' }, ours)!;
    assert.equal(containerText(docker), `in container ${ID.slice(0, 12)} (pid 7 there)`);
  });
});
